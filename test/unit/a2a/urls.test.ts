import { describe, expect, it } from "vitest";
import { urlRefusal } from "../../../filters/a2a/urls.ts";

describe("urlRefusal (what an A2A message may hand to the agent)", () => {
  it.each([
    ["http://169.254.169.254/latest/meta-data", /link-local/],
    ["http://2130706433/", /loopback/], // decimal IPv4, normalized by the URL parser
    ["http://0x7f.1/", /loopback/],
    ["http://127.1/", /loopback/],
    ["http://[::1]:8080/", /loopback/],
    ["http://[::ffff:127.0.0.1]/", /loopback/],
    ["http://[::ffff:7f00:1]/", /loopback/],
    ["http://[fe80::1]/", /link-local/],
    ["http://[fd00::5]/", /private/],
    ["http://localhost./x", /loopback name/],
    ["http://api.localhost/x", /loopback name/],
    ["http://10.0.0.8/x", /private/],
    ["http://172.20.1.1/x", /private/],
    ["http://192.168.1.10/x", /private/],
    ["http://100.100.100.100/x", /carrier-grade/],
    ["http://0.0.0.0/", /unspecified/],
    ["file:///etc/passwd", /scheme file/],
    ["gopher://files.example.com/", /scheme gopher/],
    ["not a url", /absolute/],
    ["http://[::127.0.0.1]/", /loopback/],
    ["http://[64:ff9b::a9fe:a9fe]/", /link-local/],
    ["http://[fec0::1]/", /site-local/],
    ["http://metadata/computeMetadata/v1/", /single-label/],
    ["http://redis.hexr-system.svc.cluster.local:6379/", /internal name/],
    ["http://metadata.google.internal/", /internal name/],
  ])("refuses %s", (u, why) => {
    expect(urlRefusal(u)).toMatch(why);
  });

  it.each(["https://files.example.com/q1.pdf", "http://172.32.0.1/", "https://[2001:db8::1]/x", "https://8.8.8.8/"])(
    "lets %s through",
    (u) => {
      expect(urlRefusal(u)).toBeUndefined();
    },
  );
});
