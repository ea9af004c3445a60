/** Shared state of one PII scan: the normalized text, the findings so far, and context-word scoring. */
import type { Finding } from "./types.ts";
import { type NormalizedText, toOriginal } from "./normalize.ts";
import { WindowWords } from "./text-util.ts";

const CONTEXT_BEFORE = 64;
const CONTEXT_AFTER = 24;
const CONTEXT_BOOST = 0.2;

const CONTEXT: Readonly<Record<string, readonly string[]>> = {
  email: ["email", "e-mail", "mail", "correo", "courriel"],
  phone: [
    "phone",
    "phones",
    "telephone",
    "tel",
    "call",
    "mobile",
    "cell",
    "cellphone",
    "whatsapp",
    "fax",
    "sms",
    "text me",
    "telefon",
    "telefono",
    "telefone",
    "telefoon",
    "tel.",
    "tlf",
    "mob",
    "ph",
    "handy",
    "handynummer",
    "telefonnummer",
    "rufnummer",
    "mobilnummer",
    "festnetz",
    "mobil",
    "mobiel",
    "gsm",
    "telemovel",
    "tfno",
    "cel",
    "portable",
    "cellulare",
    "celular",
    "movil",
    "dial",
    "hotline",
    "landline",
    "contact",
    "telegram",
    "signal",
    "viber",
    "電話",
    "电话",
    "手机",
    "携帯",
    "전화",
    "телефон",
    "тел",
    "手機",
  ],
  card: [
    "card",
    "cards",
    "visa",
    "mastercard",
    "amex",
    "credit",
    "debit",
    "cc",
    "payment",
    "cvv",
    "tarjeta",
    "carte",
    "karte",
    "pan",
  ],
  iban: ["iban", "bank", "account", "konto", "cuenta", "compte", "sepa", "transfer"],
  ssn: ["ssn", "social security", "social sec", "ss#", "tax id", "taxpayer"],
  ip: ["ip", "address", "host", "server", "client", "addr"],
  // national identifiers, one list per subtype (the normalized text is lowercase, diacritics dropped)
  uk_nhs: ["nhs", "nhs number", "nhs no"],
  uk_nino: ["nino", "national insurance", "ni number", "ni no"],
  nl_bsn: ["bsn", "burgerservicenummer", "sofinummer", "sofi"],
  es_dni: ["dni", "nif", "documento nacional"],
  es_nie: ["nie", "nif", "extranjero"],
  it_codice_fiscale: ["codice fiscale", "cf", "tessera sanitaria"],
  fr_nir: ["nir", "securite sociale", "secu", "insee", "social security"],
  de_tax_id: ["steuer-id", "steuerid", "steuer-idnr", "steueridentifikationsnummer", "identifikationsnummer", "idnr"],
  br_cpf: ["cpf"],
  br_cnpj: ["cnpj"],
  in_aadhaar: ["aadhaar", "aadhar", "uidai"],
  in_pan: ["pan", "permanent account number", "income tax"],
  ca_sin: ["sin", "social insurance", "nas", "assurance sociale"],
  au_tfn: ["tfn", "tax file number", "tax file"],
  crypto_wallet: [
    "wallet",
    "bitcoin",
    "btc",
    "litecoin",
    "ltc",
    "ethereum",
    "eth",
    "monero",
    "xmr",
    "crypto",
    "address",
    "send",
    "deposit",
  ],
  mac_address: ["mac", "hwaddr", "ether", "ethernet", "bssid", "wifi", "wi-fi", "nic", "adapter", "device", "hardware"],
};

export interface Ctx {
  readonly t: string;
  readonly n: NormalizedText;
  readonly out: Finding[];
  /** See ScanOptions.deadline. */
  readonly deadline: number | undefined;
  /** Context-word lookups per kind, created on first use. */
  readonly context: Map<string, WindowWords>;
  /** libphonenumber parses so far (bounded by MAX_PHONE_PARSES per text). */
  phoneParses: number;
}

/** A context word for `kind` just before or after `[s, e)` (that window only; see WindowWords for the cost). */
export function contextNear(c: Ctx, kind: string, s: number, e: number): boolean {
  let w = c.context.get(kind);
  if (w === undefined) c.context.set(kind, (w = new WindowWords(c.t, CONTEXT[kind] ?? [], true)));
  return w.has(s - CONTEXT_BEFORE, e + CONTEXT_AFTER);
}

/**
 * {@link add} for a span found in the ORIGINAL text (detectors that need case: wallet checksums). The
 * context word is looked up only when the offsets are shared (ASCII input, the common case).
 */
export function addOriginal(c: Ctx, subtype: string, os: number, oe: number, base: number, kind = subtype): void {
  const near = c.n.map === null && contextNear(c, kind, os, oe);
  const score = Math.min(0.99, Math.round((near ? base + CONTEXT_BOOST : base) * 100) / 100);
  c.out.push({ type: "pii", subtype, start: os, end: oe, score });
}

export function add(c: Ctx, subtype: string, s: number, e: number, base: number, kind = subtype): void {
  const score = Math.min(0.99, Math.round((contextNear(c, kind, s, e) ? base + CONTEXT_BOOST : base) * 100) / 100);
  const [os, oe] = toOriginal(c.n, s, e);
  c.out.push({ type: "pii", subtype, start: os, end: oe, score });
}
