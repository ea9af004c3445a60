/**
 * The PII scanner's subtypes, in one dependency-free module: the policy validates `subtypes` /
 * `disable` lists against it without loading the scanners (the main thread parses policies; the guard
 * thread scans), and a unit test checks the scanner emits nothing outside it.
 */

/** National identifiers validated by their own check digits (pii-national.ts), and the US SSN. */
const NATIONAL_IDS = [
  "ssn",
  "uk_nhs",
  "uk_nino",
  "nl_bsn",
  "es_dni",
  "es_nie",
  "it_codice_fiscale",
  "fr_nir",
  "de_tax_id",
  "br_cpf",
  "br_cnpj",
  "in_aadhaar",
  "in_pan",
  "ca_sin",
  "au_tfn",
] as const;

export const PII_SUBTYPES = [
  "email",
  "phone",
  "payment_card",
  "iban",
  "ipv4",
  "ipv6",
  "mac_address",
  "crypto_wallet",
  "date_of_birth",
  "passport",
  "drivers_license",
  ...NATIONAL_IDS,
] as const;

export type PiiSubtype = (typeof PII_SUBTYPES)[number];

/** Names a policy may use for several subtypes at once. */
export const PII_SUBTYPE_GROUPS: Readonly<Record<string, readonly PiiSubtype[]>> = {
  ip: ["ipv4", "ipv6"],
  national_id: NATIONAL_IDS,
};
