/** A real gRPC ext_proc client for tests: one stream, the messages sent one after another. */
import type * as grpc from "@grpc/grpc-js";
import type { ProcessingRequest, ProcessingResponse } from "../../sidecars/extproc/types.ts";

export type ExtProcClient = grpc.Client & {
  Process(): grpc.ClientDuplexStream<ProcessingRequest, ProcessingResponse>;
};

/** Sends `msgs` on one stream, each after the previous answer; resolves with every response. */
export function exchange(client: ExtProcClient, msgs: ProcessingRequest[]): Promise<ProcessingResponse[]> {
  return new Promise((resolve, reject) => {
    const out: ProcessingResponse[] = [];
    const call = client.Process();
    let i = 0;
    call.on("data", (r: ProcessingResponse) => {
      out.push(r);
      if (++i < msgs.length) call.write(msgs[i]!);
      else call.end();
    });
    call.on("end", () => resolve(out));
    call.on("error", reject);
    call.write(msgs[0]!);
  });
}
