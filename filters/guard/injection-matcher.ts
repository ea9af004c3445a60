/**
 * Finds lexicon words in normalized text: one trie, walked from every word start (and from every
 * Han/kana/Hangul character, where words are not space-separated). The walk folds leetspeak digits and
 * symbols only when the literal character has no path (so real digits never match words), treats any
 * run of spaces/punctuation as the single space between words of a phrase, and re-reads runs of
 * spaced-out single letters ("i g n o r e") as one collapsed string.
 *
 * Each hit carries a word position (`pos`, in tenths of a word, for proximity rules) and a clause number (sentences and
 * lines), so rules can ask "an override verb within N words of an instructions noun, same clause".
 */
import { checkDeadline, DEADLINE_EVERY } from "./deadline.ts";
import { LEXICON } from "./injection-lexicon.ts";
import { normalize } from "./normalize.ts";
import { isCjk, isWordUnit } from "./unicode.ts";

export interface Hit {
  readonly bits: number;
  /** Signal weight in hundredths (integers keep hit objects free of boxed doubles). */
  readonly weightPct: number;
  /** Distinct lexicon entry (for counting a weighted signal once). */
  readonly id: number;
  readonly start: number;
  readonly end: number;
  /** Position in tenths of a word ({@link POS_WORD} per word). */
  readonly pos: number;
  readonly clause: number;
  /** Matched through leetspeak folding or letter spacing. */
  readonly obf: boolean;
}

interface Node {
  /** Build-time children; `keys`/`kids` (small fan-out), `map` (large) and `ascii` (root) at match time. */
  next: Map<number, Node> | null;
  keys: number[];
  kids: Node[];
  map: Map<number, Node> | null;
  ascii: (Node | undefined)[] | null;
  exact: number;
  prefix: number;
  sub: number;
  weight: number;
  id: number;
  depth: number;
}

const SPACE = 0x20;
const SMALL_FANOUT = 6;
let nodeIds = 0;

function newNode(depth: number): Node {
  return {
    next: null,
    keys: [],
    kids: [],
    map: null,
    ascii: null,
    exact: 0,
    prefix: 0,
    sub: 0,
    weight: 0,
    id: nodeIds++,
    depth,
  };
}

/** Turn build-time maps into the lookup shape: linear scan for few children, map for many, array at the root. */
function seal(node: Node): void {
  if (node.next === null) return;
  for (const [k, kid] of node.next) {
    node.keys.push(k);
    node.kids.push(kid);
    seal(kid);
  }
  if (node.keys.length > SMALL_FANOUT) node.map = node.next;
  if (node.depth === 0) {
    node.ascii = new Array<Node | undefined>(128).fill(undefined);
    for (const [k, kid] of node.next) if (k < 128) node.ascii[k] = kid;
  }
  node.next = null;
}

/** The child of `node` for unit `u`. */
function child(node: Node, u: number): Node | undefined {
  if (node.ascii !== null && u < 128) return node.ascii[u];
  if (node.map !== null) return node.map.get(u);
  const ks = node.keys;
  for (let k = 0; k < ks.length; k++) if (ks[k] === u) return node.kids[k];
  return undefined;
}

function buildTrie(): Node {
  const root = newNode(0);
  for (const [bits, weight, words] of LEXICON) {
    for (const raw of words) {
      const isPrefix = raw.endsWith("*");
      let w = normalize(isPrefix ? raw.slice(0, -1) : raw).text;
      w = w.replace(/\s+/g, " ").trim(); // entry text at load time, not on the request path
      let node = root;
      for (let k = 0; k < w.length; k++) {
        const u = w.charCodeAt(k);
        node.next ??= new Map();
        let child = node.next.get(u);
        if (child === undefined) {
          child = newNode(node.depth + 1);
          node.next.set(u, child);
        }
        node = child;
      }
      const cjk = isCjk(w.charCodeAt(0)) || isCjk(w.charCodeAt(w.length - 1));
      if (cjk) node.sub |= bits;
      else if (isPrefix) node.prefix |= bits;
      else node.exact |= bits;
      if (weight > node.weight) node.weight = weight;
    }
  }
  seal(root);
  return root;
}

const ROOT = buildTrie();

/** Leetspeak: used only where the literal character has no path in the trie. */
const LEET = new Uint8Array(128);
for (const [from, to] of [
  ["0", "o"],
  ["1", "i"],
  ["3", "e"],
  ["4", "a"],
  ["5", "s"],
  ["7", "t"],
  ["@", "a"],
  ["$", "s"],
  ["!", "i"],
] as const) {
  LEET[from.charCodeAt(0)] = to.charCodeAt(0);
}

/** ASCII part of the word-unit test as a table: this runs for every character. */
const TOK_ASCII = new Uint8Array(128);
for (let u = 0; u < 128; u++) TOK_ASCII[u] = isWordUnit(u) || u === 0x40 || u === 0x24 ? 1 : 0;

function isTokUnit(u: number): boolean {
  return u < 128 ? TOK_ASCII[u] === 1 : isWordUnit(u);
}

/** Characters that may stand between the words of a phrase ("from now on, you"). */
function isSep(u: number): boolean {
  return (
    u === SPACE ||
    u === 0x0a ||
    u === 0x09 ||
    u === 0x0d ||
    u === 0x2c ||
    u === 0x3a ||
    u === 0x3b ||
    u === 0x2d ||
    u === 0x5f ||
    u === 0x22 ||
    u === 0x27 ||
    u === 0x2a
  );
}

const MAX_SEP_RUN = 6;
/** Position units of one word; a hit's `pos` counts these. */
export const POS_WORD = 10;
/** Position weight of a one-character token, so spaced-out letters do not stretch proximity windows. */
const SINGLE_CHAR_POS = 2;
const CJK_CHAR_POS = 5;
const MIN_SPACED_RUN = 5;
const MIN_SPACED_WORD = 4;

/** Scratch for {@link Collector.walkCollapsed} (scanning is synchronous), grown on demand. */
let collapsed = new Uint16Array(256);

class Collector {
  readonly hits: Hit[] = [];
  readonly t: string;
  constructor(t: string) {
    this.t = t;
  }

  /** Walk the trie from `i`, pushing every entry that ends on a valid boundary. */
  walk(i: number, pos: number, clause: number): void {
    const t = this.t;
    const len = t.length;
    let node = ROOT;
    let k = i;
    let obf = false;
    while (k < len) {
      const u = t.charCodeAt(k);
      if (node.keys.length === 0) return;
      let next = u === SPACE || u === 0x0a ? undefined : child(node, u);
      if (next === undefined && u < 128 && LEET[u] !== 0) {
        next = child(node, LEET[u] ?? 0);
        if (next !== undefined) obf = true;
      }
      if (next === undefined) {
        const sp = isSep(u) ? child(node, SPACE) : undefined;
        if (sp === undefined) return;
        let run = 0;
        while (k < len && isSep(t.charCodeAt(k)) && run++ < MAX_SEP_RUN) k++;
        node = sp;
        continue;
      }
      node = next;
      k++;
      if (node.sub !== 0) this.push(node, node.sub, i, k, pos, clause, obf);
      if (node.prefix !== 0) {
        let e = k;
        while (e < len && isTokUnit(t.charCodeAt(e))) e++;
        this.push(node, node.prefix, i, e, pos, clause, obf);
      }
      if (node.exact !== 0 && (k >= len || !isTokUnit(t.charCodeAt(k))))
        this.push(node, node.exact, i, k, pos, clause, obf);
    }
  }

  /**
   * Collapsed spaced letters: walk from every offset, ignoring word boundaries, words of 4+ letters.
   * The collapsed letters are codes in an array, not a string built one `+=` at a time: a run of
   * 40 000 single letters made a rope that cost ~8× more per letter at 256 KB than at 64 KB.
   */
  walkCollapsed(letters: number[], pos: number, clause: number): void {
    const n = letters.length;
    if (collapsed.length < n) collapsed = new Uint16Array(Math.max(n, collapsed.length * 2));
    const s = collapsed;
    for (let k = 0; k < n; k++) {
      const u = this.t.charCodeAt(letters[k] ?? 0);
      s[k] = u < 128 && LEET[u] !== 0 && !(u >= 0x61 && u <= 0x7a) ? (LEET[u] ?? u) : u;
    }
    for (let a = 0; a < n; a++) {
      let node: Node | undefined = ROOT;
      for (let b = a; b < n && node; b++) {
        node = child(node, s[b] ?? 0);
        if (!node || node.depth < MIN_SPACED_WORD) continue;
        const bits = node.exact | node.prefix | node.sub;
        if (bits !== 0)
          this.push(
            node,
            bits,
            letters[a] ?? 0,
            (letters[b] ?? 0) + 1,
            pos + Math.floor((a * POS_WORD) / 6),
            clause,
            true,
          );
      }
    }
  }

  push(node: Node, bits: number, start: number, end: number, pos: number, clause: number, obf: boolean): void {
    this.hits.push({ bits, weightPct: Math.round(node.weight * 100), id: node.id, start, end, pos, clause, obf });
  }
}

function isClauseBreak(t: string, i: number, u: number): boolean {
  if (u === 0x0a || u === 0x3b || u === 0x3002 || u === 0xff1b) return true;
  // ". ! ?" end a sentence only before a space or the end: "e.g.", "d!sregard", "1.5" do not
  if (u === 0x2e || u === 0x21 || u === 0x3f) {
    const n = t.charCodeAt(i + 1);
    return i + 1 >= t.length || n === SPACE || n === 0x0a || n === 0x0d;
  }
  return false;
}

/** All lexicon hits in `t` (normalized text), ordered by position (then start). */
export function findHits(t: string, deadline?: number): Hit[] {
  const c = new Collector(t);
  const len = t.length;
  let pos = 0;
  let clause = 0;
  let prevUnit = false;
  // spaced-letter run state
  let letters: number[] = [];
  let lastSingleEnd = -10;
  let lastNewline = -1;
  let runPos = 0;
  let runClause = 0;
  const flush = (): void => {
    if (letters.length >= MIN_SPACED_RUN) c.walkCollapsed(letters, runPos, runClause);
    letters = [];
  };
  for (let i = 0; i < len; i++) {
    if ((i & DEADLINE_EVERY) === 0) checkDeadline(deadline);
    const u = t.charCodeAt(i);
    if (u < 0x80 ? u <= 0x3f && isClauseBreak(t, i, u) : u === 0x3002 || u === 0xff1b) clause++;
    if (u === 0x0a) lastNewline = i;
    if (u >= 0x3040 && isCjk(u)) {
      pos += CJK_CHAR_POS;
      c.walk(i, pos, clause);
      prevUnit = true;
      continue;
    }
    const unit = isTokUnit(u);
    if (unit && !prevUnit) {
      const single = i + 1 >= len || !isTokUnit(t.charCodeAt(i + 1));
      pos += single ? SINGLE_CHAR_POS : POS_WORD;
      if (single) {
        const gapOk = i - lastSingleEnd <= 3 && lastNewline < lastSingleEnd;
        if (!gapOk) {
          flush();
          runPos = pos;
          runClause = clause;
        }
        letters.push(i);
        lastSingleEnd = i + 1;
      } else if (letters.length > 0) flush();
      c.walk(i, pos, clause);
    }
    prevUnit = unit;
  }
  flush();
  const hits = c.hits;
  hits.sort((a, b) => a.pos - b.pos || a.start - b.start || a.end - b.end);
  return hits;
}
