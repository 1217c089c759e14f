// Handlers run by AWS's Node runtime interface client (npm aws-lambda-ric) inside the emulator.
import { existsSync } from "node:fs";

const waitFor = async (path) => {
  while (!existsSync(path)) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
};

export const buffered = async (event, context) => ({ got: event, requestId: context.awsRequestId });

export const failing = async () => {
  throw new TypeError("node handler failed");
};

// A Function URL streaming handler: the spec travels in the request body.
export const streaming = awslambda.streamifyResponse(async (event, responseStream) => {
  const spec = event.body ? JSON.parse(event.body) : event;
  const http = awslambda.HttpResponseStream.from(responseStream, {
    statusCode: 201,
    headers: { "content-type": "text/event-stream", "x-node": "yes" },
    cookies: ["n=1; Path=/"],
  });
  http.write("data: one\n\n");
  if (spec.gate) {
    await waitFor(spec.gate);
  }
  if (spec.fail) {
    throw new RangeError("node stream failed");
  }
  http.write("data: two\n\n");
  http.end();
});
