import { describe, expect, it } from "vitest";
import { rssGrowth, type SoakSample, slope } from "../../../bench/soak.ts";

const at = (t: number, mb: number): SoakSample => ({
  t_s: t,
  server_rss_mb: mb,
  envoy_rss_mb: 10,
  server_cpu_cores: 0.5,
});

describe("soak growth figures", () => {
  it("least-squares slope", () => {
    expect(
      slope([
        [0, 1],
        [1, 3],
        [2, 5],
      ]),
    ).toBeCloseTo(2);
    expect(slope([[1, 1]])).toBeNull();
    expect(
      slope([
        [1, 1],
        [1, 2],
      ]),
    ).toBeNull();
  });

  it("compares the first and last minute of the measured span, ignoring the warm-up", () => {
    const samples = [at(-10, 500), ...Array.from({ length: 301 }, (_, i) => at(i * 2, 100 + i * 0.1))];
    const g = rssGrowth(samples, 10);
    expect(g.first_minute_mb).toBeCloseTo(101.5, 0);
    expect(g.last_minute_mb).toBeCloseTo(128.5, 0);
    expect(g.growth_mb).toBeCloseTo(27, 0);
    expect(g.slope_mb_per_min).toBeCloseTo(3, 1);
    expect(g.max_mb).toBe(130);
  });

  it("flat memory is no growth", () => {
    const g = rssGrowth(
      Array.from({ length: 100 }, (_, i) => at(i * 6, 150)),
      10,
    );
    expect(g.growth_mb).toBe(0);
    expect(g.slope_mb_per_min).toBe(0);
  });
});
