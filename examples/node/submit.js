// Submit a signed agents.run_task to agentworker with celery-node.
//
//   CELERY_BROKER_URL=redis://localhost:6379/0 AGENTWORKER_API_KEY=awk_... \
//     node submit.js TENANT AGENT "What to ask"
//
// Prints the message id (the task row's broker_message_id). With --tamper, the input is
// changed after signing, to see the worker refuse it ("wrong signature").
"use strict";

const celery = require("celery-node");
const { signKwargs } = require("./sign");

async function main() {
  const args = process.argv.slice(2);
  const tamper = args.includes("--tamper");
  const [tenant, agent, input] = args.filter((arg) => arg !== "--tamper");
  const brokerUrl = process.env.CELERY_BROKER_URL || process.env.REDIS_URL;
  const apiKey = process.env.AGENTWORKER_API_KEY;
  if (!tenant || !agent || !input || !brokerUrl || !apiKey) {
    console.error(
      "usage: CELERY_BROKER_URL=redis://… AGENTWORKER_API_KEY=awk_… node submit.js TENANT AGENT INPUT [--tamper]",
    );
    process.exit(2);
  }

  const kwargs = signKwargs("agents.run_task", { tenant, agent, input }, apiKey);
  if (tamper) {
    kwargs.input = input + " (changed after signing)";
  }

  // agents.* tasks are consumed from the "agents" queue; no result backend is needed, but
  // celery-node wants one: the broker serves.
  const client = celery.createClient(brokerUrl, brokerUrl, "agents");
  const result = client.sendTask("agents.run_task", [], kwargs);
  await client.isReady(); // the message is published once the connections are ready
  await client.disconnect(); // after the publish it queued
  console.log(result.taskId);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
