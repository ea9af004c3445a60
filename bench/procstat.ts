/**
 * CPU time and resident memory of a process, from /proc (Linux). CPU is user + system time of all the
 * process's threads, so Go's and Envoy's worker threads and Node's libuv/GC threads all count.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";

let clockTicks: number | undefined;

/** `sysconf(_SC_CLK_TCK)`: the unit of utime/stime in /proc/<pid>/stat (100 on Linux in practice). */
function ticksPerSecond(): number {
  if (clockTicks === undefined) {
    try {
      clockTicks = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

/** Seconds of CPU the process has used so far, or undefined when it is gone. */
export function cpuSeconds(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return undefined;
  return (utime + stime) / ticksPerSecond();
}

/** Resident set size in MiB (VmRSS), or undefined when the process is gone. */
export function rssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** CPU used between two snapshots of a set of processes. */
export class CpuMeter {
  readonly #start = new Map<number, number>();

  constructor(pids: readonly number[]) {
    for (const pid of pids) this.#start.set(pid, cpuSeconds(pid) ?? 0);
  }

  /** CPU seconds used by `pid` since construction. */
  used(pid: number): number | undefined {
    const now = cpuSeconds(pid);
    const start = this.#start.get(pid);
    return now === undefined || start === undefined ? undefined : now - start;
  }
}

/** A one-line description of the machine for the report: CPU model, cores, memory, kernel. */
export function machineDescription(): { cpu: string; cores: number; memory_gb: number; kernel: string } {
  let cpu = "unknown";
  let cores = 0;
  try {
    const info = readFileSync("/proc/cpuinfo", "utf8");
    cpu = /^model name\s*:\s*(.+)$/m.exec(info)?.[1]?.trim() ?? cpu;
    cores = (info.match(/^processor\s*:/gm) ?? []).length;
  } catch {
    // not Linux: leave unknown
  }
  let memoryGb = 0;
  try {
    const kb = Number(/^MemTotal:\s+(\d+)/m.exec(readFileSync("/proc/meminfo", "utf8"))?.[1] ?? 0);
    memoryGb = Math.round((kb / 1024 / 1024) * 10) / 10;
  } catch {
    // leave 0
  }
  let kernel = "unknown";
  try {
    kernel = readFileSync("/proc/sys/kernel/osrelease", "utf8").trim();
  } catch {
    // leave unknown
  }
  return { cpu, cores, memory_gb: memoryGb, kernel };
}
