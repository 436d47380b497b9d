/**
 * Listener receives one event's payload.
 */
export type Listener<T> = (payload: T) => void;

/**
 * Emitter is a minimal typed event emitter. Events maps each event name to its
 * payload type. A listener that throws does not stop the others, nor the
 * library code that emitted: the error goes to the onListenerError function
 * given to the constructor, or by default is rethrown on a fresh task, where
 * the browser reports it as uncaught.
 */
export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<Listener<never>>>();
  private readonly onListenerError: (err: unknown) => void;

  /** Emitter's constructor takes where listener errors go; absent means rethrow on a fresh task. */
  constructor(onListenerError?: (err: unknown) => void) {
    this.onListenerError = onListenerError ?? rethrowLater;
  }

  /** on adds a listener and returns a function that removes it. */
  on<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) {
      set = new Set();
      this.listeners.set(type, set);
    }
    set.add(fn as Listener<never>);
    return () => this.off(type, fn);
  }

  /** once adds a listener that removes itself after its first call. */
  once<K extends keyof Events>(type: K, fn: Listener<Events[K]>): () => void {
    const off = this.on(type, (payload) => {
      off();
      fn(payload);
    });
    return off;
  }

  /** off removes a listener added with on; removing an unknown one does nothing. */
  off<K extends keyof Events>(type: K, fn: Listener<Events[K]>): void {
    const set = this.listeners.get(type);
    if (!set) return;
    set.delete(fn as Listener<never>);
    if (set.size === 0) this.listeners.delete(type);
  }

  /** listenerCount returns how many listeners the event has. */
  listenerCount<K extends keyof Events>(type: K): number {
    return this.listeners.get(type)?.size ?? 0;
  }

  /** emit calls every listener of the event, in the order they were added. */
  emit<K extends keyof Events>(type: K, payload: Events[K]): void {
    const set = this.listeners.get(type);
    if (!set) return;
    // Copy so that listeners may add or remove listeners while we iterate.
    for (const fn of [...set]) {
      try {
        (fn as Listener<Events[K]>)(payload);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  /** removeAllListeners drops every listener of every event. */
  removeAllListeners(): void {
    this.listeners.clear();
  }
}

function rethrowLater(err: unknown): void {
  setTimeout(() => {
    throw err;
  }, 0);
}
