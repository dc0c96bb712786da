// Server-sent events read with fetch(): EventSource cannot send the Authorization header the
// stream needs, so the stream is parsed here, and Last-Event-ID is kept and sent on every
// reconnect (delivery is at least once: the server resumes after the last id received).
import { token } from "/web/js/api.js";

/** Parse text/event-stream chunks into {id, event, data} (the WHATWG rules we need). */
export class EventParser {
  constructor(onEvent, onRetry) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.id = null;
    this.event = "message";
    this.data = [];
  }

  push(text) {
    this.buffer += text;
    const lines = this.buffer.split(/\r\n|\r|\n/);
    this.buffer = lines.pop(); // an unfinished line waits for the next chunk
    for (const line of lines) this.line(line);
  }

  line(line) {
    if (line === "") {
      if (this.data.length) this.onEvent({ id: this.id, event: this.event, data: this.data.join("\n") });
      this.reset();
      return;
    }
    if (line.startsWith(":")) return; // a comment (keepalive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id") this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }
}

/**
 * Follow a stream until stop(): onEvent({id, event, data}) per event; onStatus(text) when
 * connected or reconnecting; onUnauthorised() on a 401 (then it stops).
 */
export function follow(path, { onEvent, onStatus = () => {}, onUnauthorised = () => {} }) {
  let lastId = null;
  let retryMs = 1000;
  let stopped = false;
  let controller = null;

  async function once() {
    controller = new AbortController();
    const headers = { Accept: "text/event-stream", Authorization: `Bearer ${token.get()}` };
    if (lastId !== null) headers["Last-Event-ID"] = lastId;
    const response = await fetch(path, { headers, cache: "no-store", credentials: "omit", signal: controller.signal });
    if (response.status === 401) {
      stopped = true;
      onUnauthorised();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
    onStatus("live");
    const parser = new EventParser(
      (ev) => {
        if (ev.id !== null) lastId = ev.id;
        onEvent(ev);
      },
      (ms) => (retryMs = ms),
    );
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }

  (async () => {
    while (!stopped) {
      try {
        await once();
      } catch (err) {
        if (stopped) return;
        onStatus(`reconnecting (${err.message})`);
      }
      if (stopped) return;
      onStatus("reconnecting");
      await new Promise((resolve) => setTimeout(resolve, retryMs));
    }
  })();

  return {
    stop() {
      stopped = true;
      controller?.abort();
    },
  };
}
