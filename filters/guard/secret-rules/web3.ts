/**
 * Blockchain node and explorer APIs: Infura, Alchemy, Etherscan (and its family of explorers), Moralis,
 * QuickNode. No prefixes: each key is read after its provider's context word.
 */
import { ALNUM, LOWER_HEX, type SecretRule, UPPER_ALNUM, contextRule } from "./rule.ts";
import { classTable, isAsciiAlnum } from "../text-util.ts";

const after = contextRule;

export const WEB3_RULES: readonly SecretRule[] = [
  after("Infura", "infura_api_key", ["infura_api_key", "infura_project_id", "infura_key"], LOWER_HEX, 32, "[[h:32]]"),
  after(
    "Alchemy",
    "alchemy_api_key",
    ["alchemy_api_key", "alchemy_key"],
    classTable((u) => isAsciiAlnum(u) || u === 0x2d || u === 0x5f),
    32,
    "[[w:32]]",
  ),
  after(
    "Etherscan",
    "etherscan_api_key",
    ["etherscan_api_key", "bscscan_api_key", "polygonscan_api_key"],
    UPPER_ALNUM,
    34,
    "[[u:34]]",
  ),
  after("Moralis", "moralis_api_key", ["moralis_api_key"], ALNUM, 64, "[[a:64]]"),
  after("QuickNode", "quicknode_api_key", ["quicknode_api_key", "quicknode_token"], LOWER_HEX, 40, "[[h:40]]"),
];
