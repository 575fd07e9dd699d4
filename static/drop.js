// What the page needs at load of static/upload.js: `load` for any scenario (inline when small),
// and the CSV picker and the drop onto `zone`; the upload module itself loads at the first
// large scenario or file.

const INLINE_CHARS = 256 * 1024; // a scenario's JSON up to this size goes in the `load` itself

export function createUploads(store, send, note, picker, zone) {
  const uploads = () => import("./upload.js");

  async function load(scenario) {
    const text = JSON.stringify(scenario);
    if (text.length <= INLINE_CHARS) return send({ type: "load", scenario });
    return uploads().then((m) => m.uploadScenario(store, send, note, scenario, text));
  }

  function loadCSV(file) {
    if (file) return uploads().then((m) => m.loadCSV(store, send, note, file));
  }

  picker.addEventListener("change", () => {
    const f = picker.files[0];
    picker.value = "";
    loadCSV(f);
  });
  zone.addEventListener("dragover", (e) => {
    if (![...e.dataTransfer.types].includes("Files")) return;
    e.preventDefault(); // allow the drop
    e.dataTransfer.dropEffect = "copy";
    zone.classList.add("dropping");
    uploads(); // a file is on its way
  });
  zone.addEventListener("dragleave", (e) => {
    if (!zone.contains(e.relatedTarget)) zone.classList.remove("dropping");
  });
  zone.addEventListener("drop", (e) => {
    const f = e.dataTransfer.files[0];
    if (!f) return;
    e.preventDefault();
    zone.classList.remove("dropping");
    loadCSV(f);
  });

  return { load, loadCSV };
}
