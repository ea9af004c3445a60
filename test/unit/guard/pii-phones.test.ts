import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { MAX_PHONE_PARSES, scanPii } from "../../../filters/guard/pii.ts";
import { expectPiiFinding } from "./helpers.ts";

const scan = (t: string) => scanPii(t, normalize(t));
const phones = (t: string) => scan(t).filter((f) => f.subtype === "phone" && f.score >= 0.5);

describe("phone numbers as people write them", () => {
  it.each([
    // North American shapes: found by shape even when metadata calls the 555 area "possible" only
    ["NANP with parentheses, fictional 555", "Call (555) 123-4567 now", "(555) 123-4567"],
    ["NANP with dots", "reach her at 555.123.4567.", "555.123.4567"],
    ["NANP with dashes, no context word", "The number is 312-555-0199", "312-555-0199"],
    ["NANP with spaces", "212 555 0123 is the front desk", "212 555 0123"],
    ["toll-free with a leading 1", "1-800-555-0199", "1-800-555-0199"],
    ["E.164 with parentheses and an extension", "+1 (415) 555-2671 ext. 12", "+1 (415) 555-2671 ext. 12"],
    ["glued extension", "desk 415-555-2671x123", "415-555-2671x123"],
    ["extension word", "415-555-2671 extension 4", "415-555-2671 extension 4"],
    ["E.164 with dots", "+1.415.555.2671", "+1.415.555.2671"],
    ["E.164 compact", "sms +14155552671", "+14155552671"],
    ["+1 with 555 (possible only)", "Contact: +1 555 123 4567", "+1 555 123 4567"],
    // international
    ["UK London", "+44 20 7946 0958", "+44 20 7946 0958"],
    ["UK national", "ring 020 7946 0958 after six", "020 7946 0958"],
    ["UK mobile drama range (possible only) with context", "mobile 07700 900123", "07700 900123"],
    ["German with (0)", "+49 (0)30 1234567", "+49 (0)30 1234567"],
    ["German national with Handy", "Handy: 0151 23456789", "0151 23456789"],
    ["German slash form", "Tel. 030/1234567", "030/1234567"],
    ["French national", "06 12 34 56 78", "06 12 34 56 78"],
    ["French international", "+33 6 12 34 56 78", "+33 6 12 34 56 78"],
    ["French with dots", "portable 06.12.34.56.78", "06.12.34.56.78"],
    ["French with téléphone", "téléphone : 01 23 45 67 89", "01 23 45 67 89"],
    ["Spanish with teléfono (amount-like grouping needs the word)", "teléfono 612 345 678", "612 345 678"],
    ["Spanish international", "+34 612 34 56 78", "+34 612 34 56 78"],
    ["Indian international", "+91 98765 43210", "+91 98765 43210"],
    ["Indian national with WhatsApp", "WhatsApp 98765 43210", "98765 43210"],
    ["German compound word", "Telefonnummer: 30 12345678", "30 12345678"],
    ["Dutch mobiel", "mobiel 6 12345678", "6 12345678"],
    ["Brazilian", "+55 11 91234-5678", "+55 11 91234-5678"],
    ["Italian", "+39 06 1234 5678", "+39 06 1234 5678"],
    ["Dutch", "+31 6 12345678", "+31 6 12345678"],
    ["Australian area code in parentheses", "(02) 9876 5432", "(02) 9876 5432"],
    ["Australian mobile", "0412 345 678", "0412 345 678"],
    ["Japanese with 電話 (no JP region)", "電話 03-1234-5678", "03-1234-5678"],
    ["Chinese mobile", "手机 +86 138 0013 8000", "+86 138 0013 8000"],
    ["international prefix 00", "0049 30 1234567", "0049 30 1234567"],
    ["North American international prefix 011", "dial 011 44 20 7946 0958", "011 44 20 7946 0958"],
    ["00 + 1 with a glued extension", "001-555-123-4567x890", "001-555-123-4567x890"],
    ["NANP with no space after the area code", "(555)123-4567", "(555)123-4567"],
    ["UK with (0) and random digits", "+44(0)1632 960123", "+44(0)1632 960123"],
    ["area code in parentheses, 5 digits", "(05412) 12345", "(05412) 12345"],
    ["bare run with a context word", "phone 9876543210", "9876543210"],
    ["7-digit local number with a context word", "call 555-0100", "555-0100"],
    ["in parentheses", "Jane (020 7946 0958) called", "020 7946 0958"],
    ["fullwidth digits", "ｔｅｌ ０２０ ７９４６ ０９５８", "０２０ ７９４６ ０９５８"],
  ])("finds %s", (_name, text, value) => {
    expectPiiFinding(scan(text), text, "phone", value);
  });

  it.each([
    ["order number", "Order #12345678 shipped"],
    ["order number with a dash", "order 2024-001234 shipped"],
    ["year range", "between 2019-2023 revenue grew"],
    ["amount with spaces", "price 1 234 567 EUR"],
    ["amount next to a phone word", "mobile data used: 12 345 678 bytes"],
    ["amount with dots", "total 1.234.567,00"],
    ["ISBN-13", "ISBN 978-3-16-148410-0"],
    ["ISBN-10", "ISBN 0-306-40615-2"],
    ["unix timestamp", "timestamp 1700000000"],
    ["compact timestamp", "id 20240115103000"],
    ["coordinates", "at 37.7749, -122.4194"],
    ["coordinates with a space", "coords 40.7128 -74.0060"],
    ["four-part version", "version 10.0.19041.1234"],
    ["five-part version", "release 10.12.34.56.78"],
    ["dotted build number", "build 2024.01.15.1234"],
    ["a list of scores", "scores 10 20 30 40 50 60 70"],
    ["screen resolution", "resolution 1920 1080"],
    ["ticket pair", "Ticket 4821-3345 closed"],
    ["invoice in groups", "invoice 0042-1234-5678"],
    ["zero-padded serial", "serial 0000 1111 2222"],
    ["decimals", "run 3 of 10: 0.123 0.456 0.789"],
    ["date and time", "at 2026-01-15 10:30 the job ran"],
    ["bare 10 digits", "ref 4155552671"],
    ["digits glued to a word", "SKU-4155552671 and abc2125550123"],
    ["hex hash", "commit 4155552671abcdef"],
    ["an example SSN in parentheses", "a published example (078-05-1120, 123-45-6789)"],
  ])("ignores %s", (_name, text) => {
    expect(phones(text)).toEqual([]);
  });

  it("scores by what metadata says: valid above possible, a context word above none", () => {
    const s = (t: string) => phones(t)[0]?.score ?? 0;
    expect(s("+44 20 7946 0958")).toBeGreaterThan(s("+44 7700 900123")); // drama range: possible only
    expect(s("call +44 20 7946 0958")).toBeGreaterThan(s("+44 20 7946 0958"));
    expect(s("+1 555 123 4567")).toBeGreaterThanOrEqual(0.5);
  });

  it("tries the configured regions in turn", () => {
    const t = "ruf an 030 901820";
    expect(scanPii(t, undefined, { phoneRegions: ["US", "DE"] })[0]?.subtype).toBe("phone");
    expect(scanPii(t, undefined, { phoneRegion: "DE" })[0]?.subtype).toBe("phone");
    // US metadata only: a 9-digit number with a 0 is no phone there, even with the word
    expect(scanPii(t, undefined, { phoneRegions: ["US"] }).filter((f) => f.score >= 0.5)).toEqual([]);
  });

  it("keeps finding strong shapes past the parse budget", () => {
    const text = Array.from({ length: MAX_PHONE_PARSES * 3 }, (_, i) => `(212) 555-${String(1000 + i)}`).join("; ");
    expect(phones(text)).toHaveLength(MAX_PHONE_PARSES * 3);
    const plus = Array.from({ length: MAX_PHONE_PARSES * 3 }, (_, i) => `+44 20 7946 ${String(1000 + i)}`).join(", ");
    expect(phones(plus)).toHaveLength(MAX_PHONE_PARSES * 3);
  });

  it("is not also an NHS number or a card when it is a phone", () => {
    expect(scan("call 020 7946 0958").map((f) => f.subtype)).toEqual(["phone"]);
  });
});
