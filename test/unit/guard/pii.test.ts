import { expectPiiFinding } from "./helpers.ts";
import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { scanPii } from "../../../filters/guard/pii.ts";

const scan = (t: string) => scanPii(t, normalize(t));

describe("scanPii", () => {
  it.each([
    ["email", "write to jane.doe+billing@example.co.uk today", "email", "jane.doe+billing@example.co.uk"],
    ["email at the end of a sentence", "Contact: ops@example.org.", "email", "ops@example.org"],
    ["fullwidth email", "ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ", "email", "ｊｏ＠ｅｘａｍｐｌｅ．ｃｏｍ"],
    ["US phone", "call me at (415) 555-2671 tomorrow", "phone", "(415) 555-2671"],
    ["US phone with dots", "tel 415.555.2671", "phone", "415.555.2671"],
    ["international phone", "mobile: +44 20 7946 0958", "phone", "+44 20 7946 0958"],
    ["French phone", "portable +33 6 12 34 56 78", "phone", "+33 6 12 34 56 78"],
    ["phone split by a zero-width space", "call +1 415 555\u200B 2671", "phone", "+1 415 555\u200B 2671"],
    ["Visa card with spaces", "card 4111 1111 1111 1111 exp 12/27", "payment_card", "4111 1111 1111 1111"],
    ["Mastercard with dashes", "5555-5555-5555-4444", "payment_card", "5555-5555-5555-4444"],
    ["Amex", "amex 378282246310005", "payment_card", "378282246310005"],
    ["IBAN grouped", "IBAN: DE89 3704 0044 0532 0130 00, thanks", "iban", "DE89 3704 0044 0532 0130 00"],
    ["IBAN compact", "pay to GB82WEST12345698765432", "iban", "GB82WEST12345698765432"],
    ["IBAN with its label glued on", "IBAN:FR1420041010050500013M02606", "iban", "FR1420041010050500013M02606"],
    ["SSN with dashes", "SSN 536-22-8193", "ssn", "536-22-8193"],
    ["SSN without dashes next to its label", "ssn: 536228193", "ssn", "536228193"],
    ["SSN with spaces", "SSN 536 22 8193", "ssn", "536 22 8193"],
    ["SSN with dots next to its label", "my ssn is 536.22.8193", "ssn", "536.22.8193"],
    ["an example SSN written as someone's", "Social Security Number: 123-45-6789", "ssn", "123-45-6789"],
    ["card with dots", "card 4111.1111.1111.1111", "payment_card", "4111.1111.1111.1111"],
    ["Amex in 4-6-5 with dashes", "3782-822463-10005", "payment_card", "3782-822463-10005"],
    ["IBAN in lowercase groups", "iban: gb82 west 1234 5698 7654 32", "iban", "gb82 west 1234 5698 7654 32"],
    ["email in angle brackets", "From: Bob <Bob.Smith+news@Example.COM>", "email", "Bob.Smith+news@Example.COM"],
    ["public IPv4", "client at 8.8.4.4 connected", "ipv4", "8.8.4.4"],
    ["private IPv4", "server 192.168.10.24", "ipv4", "192.168.10.24"],
    ["IPv6", "ip 2001:4860:4860::8888", "ipv6", "2001:4860:4860::8888"],
    ["full IPv6", "addr 2a00:1450:4001:0829:0000:0000:0000:200e", "ipv6", "2a00:1450:4001:0829:0000:0000:0000:200e"],
  ])("finds %s", (_name, text, subtype, value) => {
    expectPiiFinding(scan(text), text, subtype, value);
  });

  it.each([
    ["SSH remote", "git@github.com:org/repo.git"],
    ["retina asset", "logo@2x.png"],
    ["npm scope", "npm i @types/node"],
    ["versioned package", "install lodash@4.17.21"],
    ["mention", "thanks @dana!"],
    ["URL credentials are not an email", "https://user:pw@example.com/"],
    ["order number failing Luhn", "Order #4111 1111 1111 1112 shipped"],
    ["random 16 digits", "tracking 1234567890123456"],
    ["all zeros card", "0000 0000 0000 0000"],
    ["IBAN with a bad checksum (and no known issuer)", "IBAN DE89 3704 0044 0532 0130 01"],
    ["SSN with area 000", "000-12-3456"],
    ["SSN with area 666", "666-12-3456"],
    ["SSN in the 9xx range", "912-34-5678"],
    ["SSN with group 00", "123-00-4567"],
    ["SSN with serial 0000", "123-45-0000"],
    ["the Woolworth example SSN", "078-05-1120"],
    ["sequential example SSN", "123-45-6789"],
    ["9 digits without SSN context", "ref 536228193"],
    ["dotted 3-2-4 without SSN context", "ref 536.22.8193"],
    ["dotted 16 digits failing Luhn", "build 4111.1111.1111.1112"],
    ["version number", "upgrade to 1.2.3.4.5"],
    ["version prefixed with v", "release v1.2.3.4"],
    ["octet out of range", "999.1.1.1"],
    ["leading zeros", "01.02.03.04"],
    ["C++ scope", "std::vector<int> a::b"],
    ["time of day", "at 12:30:45"],
    ["ISO date", "on 2024-01-15 we shipped"],
    ["date and time", "at 2026-01-15 10:30:00Z the job ran"],
    ["European date and time", "am 15.01.2026 10:30 Uhr"],
    ["loopback address with context", 'server.listen(0, { host: "127.0.0.1" })'],
    ["unspecified address", "bind address 0.0.0.0:8080"],
    ["documentation address", "client ip 203.0.113.7"],
    ["IPv6 loopback and documentation prefix", "host ::1 and 2001:db8::5"],
    ["short numbers", "room 4B, floor 12, ext 301"],
    ["a 7-digit number without a context word", "see 555-0100"],
    ["prose", "The quick brown fox jumps over the lazy dog."],
  ])("ignores %s", (_name, text) => {
    expect(scan(text).filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it.each([
    ["card", "4111 1111 1111 1111", "my credit card is 4111 1111 1111 1111"],
    ["email", "ab@example.com", "email: ab@example.com"],
    ["ip", "10.1.2.3", "host ip 10.1.2.3"],
  ])("context words raise the %s score", (_kind, bare, withContext) => {
    const a = scan(bare)[0]!;
    const b = scan(withContext)[0]!;
    expect(b.score).toBeGreaterThan(a.score);
  });

  it("rates private below public addresses, and loopback not at all", () => {
    const s = (t: string) => scan(t)[0]?.score ?? 0;
    expect(s("127.0.0.1")).toBe(0);
    expect(s("10.0.0.1")).toBeGreaterThan(0);
    expect(s("10.0.0.1")).toBeLessThan(s("8.8.8.8"));
  });

  it("does not report a card number as a phone as well", () => {
    expect(scan("4111 1111 1111 1111").map((f) => f.subtype)).toEqual(["payment_card"]);
  });

  it("uses the configured phone region", () => {
    expect(scanPii("ruf an 030 901820", undefined, { phoneRegion: "DE" })[0]?.subtype).toBe("phone");
    expect(scanPii("ruf an 030 901820", undefined, { phoneRegion: "US" })).toEqual([]);
  });

  it("raises every number near a context word, however many there are", () => {
    // the first few context windows are searched, the rest answered from an index of the whole text
    const text = Array.from(
      { length: 40 },
      (_, k) => `card ${k % 2 ? "4111 1111 1111 1111" : "5500 0000 0000 0004"}`,
    ).join("; ");
    const fs = scan(text).filter((f) => f.subtype === "payment_card");
    expect(fs).toHaveLength(40);
    expect(new Set(fs.map((f) => f.score))).toEqual(new Set([0.99])); // known issuer 0.85 + context 0.2, capped
  });

  it("stays bounded when text is full of phone-like numbers", () => {
    const text = Array.from({ length: 200 }, (_, i) => `+1 415 555 ${String(1000 + i)}`).join(", ");
    const t0 = performance.now();
    const fs = scan(text);
    expect(performance.now() - t0).toBeLessThan(200);
    expect(fs.length).toBe(200);
  });
});
