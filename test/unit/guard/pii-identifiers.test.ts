import { describe, expect, it } from "vitest";
import { normalize } from "../../../filters/guard/normalize.ts";
import { scanPii } from "../../../filters/guard/pii.ts";
import { expectPiiFinding } from "./helpers.ts";

const scan = (t: string) => scanPii(t, normalize(t));
const of = (t: string, subtype: string) => scan(t).filter((f) => f.subtype === subtype && f.score >= 0.5);

describe("driver's licences (after their name)", () => {
  it.each([
    ["California (letter + 7)", "Driver's license: D1234567", "D1234567"],
    ["Florida with dashes", "DL# S123-456-78-910-0 (FL)", "S123-456-78-910-0"],
    ["state code in between", "driver's license number (CA) is B7654321", "B7654321"],
    ["New York 9 digits", "NY drivers license 123 456 789", "123 456 789"],
    ["Illinois", "driver license no. A123-4567-8901", "A123-4567-8901"],
    ["Iowa", "DL: 123AB4567", "123AB4567"],
    ["New Hampshire", "license number 12ABC34567", "12ABC34567"],
    ["Washington", "driver’s license WDLABCD1234E", "WDLABCD1234E"],
    ["Kansas", "driving license K1K1K", "K1K1K"],
    ["UK licence", "driving licence MORGA753116SM9IJ", "MORGA753116SM9IJ"],
    ["German Führerschein", "Führerschein: B072RRE2I55", "B072RRE2I55"],
    ["Spanish", "licencia de conducir 12345678Z", "12345678Z"],
  ])("finds %s", (_n, text, value) => {
    expectPiiFinding(scan(text), text, "drivers_license", value);
  });

  it.each([
    ["the same code without its name", "ticket D1234567 is closed"],
    ["deep learning", "DL models like GPT-4 are big"],
    ["a download link", "see dl.acm.org/doi/10.1145"],
    ["a licence key without digits", "license number ABCD-EFGH"],
    ["a short number", "DL 12"],
    ["too far from its name", `driver's license ${"and so on ".repeat(6)} D1234567`],
  ])("ignores %s", (_n, text) => {
    expect(of(text, "drivers_license")).toEqual([]);
  });
});

describe("passports (after their name)", () => {
  it.each([
    ["US 9 digits", "passport number 123456789", "123456789"],
    ["US letter + 8", "Passport No: A12345678", "A12345678"],
    ["India", "passport J8369854", "J8369854"],
    ["German", "Reisepass: C01X00T47", "C01X00T47"],
    ["French", "passeport n° 12AB34567", "12AB34567"],
    ["Canadian", "pasaporte AB123456", "AB123456"],
    ["Japanese trigger", "パスポート TK1234567", "TK1234567"],
  ])("finds %s", (_n, text, value) => {
    expectPiiFinding(scan(text), text, "passport", value);
  });

  it.each([
    ["an expiry year", "passport expires 2030"],
    ["a word", "passport control was slow"],
    ["the number without its name", "order 123456789 shipped"],
    ["too long", "passport 1234567890123"],
  ])("ignores %s", (_n, text) => {
    expect(of(text, "passport")).toEqual([]);
  });
});

describe("dates of birth (after their name)", () => {
  it.each([
    ["US numeric", "DOB: 03/12/1985", "03/12/1985"],
    ["ISO", "date of birth 1985-03-12", "1985-03-12"],
    ["two-digit year", "D.O.B. 12.03.85", "12.03.85"],
    ["day month year", "date of birth 12 March 1985", "12 March 1985"],
    ["ordinal", "born on the 3rd of May, 1990", "3rd of May, 1990"],
    ["month day, year", "born on March 12, 1985", "March 12, 1985"],
    ["German", "geboren am 15. März 1985", "15. März 1985"],
    ["German label", "Geburtsdatum: 01.02.1970", "01.02.1970"],
    ["French", "né le 12 mars 1985", "12 mars 1985"],
    ["Spanish", "fecha de nacimiento: 12 de marzo de 1985", "12 de marzo de 1985"],
    ["Italian", "nato il 5 giugno 1978", "5 giugno 1978"],
    ["Dutch", "geboortedatum 7 mei 1992", "7 mei 1992"],
    ["Portuguese", "data de nascimento 21/04/1960", "21/04/1960"],
    ["Japanese", "生年月日 1985年3月12日", "1985年3月12日"],
  ])("finds %s", (_n, text, value) => {
    expectPiiFinding(scan(text), text, "date_of_birth", value);
  });

  it.each([
    ["a date without its name", "the meeting is on 03/12/1985"],
    ["a year only", "born in 1985"],
    ["not a calendar date", "DOB: 31/02/1985"],
    ["month 13 either way", "DOB 13/13/1985"],
    ["a year out of range", "date of birth 12 March 1850"],
    ["French negation", "il ne le sait pas"],
    ["a version", "birthday 1.2.3"],
  ])("ignores %s", (_n, text) => {
    expect(of(text, "date_of_birth")).toEqual([]);
  });
});
