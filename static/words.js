// The server's errors, told to a person: never a raw protocol message ("slice.span: Input
// should be ..."). The step log keeps the exact event for whoever debugs.

const WHAT = {
  load: "loading the scenario",
  slice: "the cost along this weight",
  gradcheck: "the gradient check",
  seek: "going to that step",
  set: "that setting",
  set_weight: "setting the weight",
  set_bias: "setting the bias",
  set_data: "changing the points",
  step: "the step",
  epoch: "the epoch",
  play: "playing",
  select: "picking the example",
};

// what a page-made request got wrong is the page's fault, not the person's
const PAGE_FAULT = new Set(["invalid_json", "duplicate_key", "binary_not_allowed", "invalid_command", "unknown_type"]);

// The message without its "command.field: " prefix, its first letter raised.
function plain(message) {
  const m = String(message).replace(/^[a-z_]+(\.[a-z_[\]0-9]+)*: /, "");
  return m.charAt(0).toUpperCase() + m.slice(1);
}

export function humane(ev) {
  const what = WHAT[ev.request] || "that";
  if (PAGE_FAULT.has(ev.code)) return `The server could not do ${what}: the page asked for something out of its range. The step log has the details.`;
  if (ev.code === "invalid_scenario") return `This scenario cannot be loaded. ${plain(ev.message)}`;
  if (ev.code === "unknown_session") return "This session had expired on the server: a new one started.";
  if (ev.code === "internal") return `The server failed at ${what}. Try again; the step log has the details.`;
  return plain(ev.message);
}
