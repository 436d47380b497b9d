import { afterEach, beforeEach, mock } from "node:test";

// A stand-in for the few DOM calls the demo's views make, for unit tests
// of those views under node:test's mock timers.

/** FakeNode is what fakeNode makes: it keeps its children, so that a test can read what a view shows. */
export interface FakeNode {
  dataset: Record<string, string>;
  textContent: string | null;
  children: FakeNode[];
}

/** fakeNode stands for an element: its dataset, text and children, and no-op listeners. */
export function fakeNode(): HTMLElement {
  const n = {
    dataset: {} as Record<string, string>,
    textContent: "" as string | null,
    className: "",
    hidden: false,
    disabled: false,
    children: [] as unknown[],
    setAttribute() {},
    append(...c: unknown[]) {
      n.children.push(...c);
    },
    replaceChildren(...c: unknown[]) {
      n.children = c;
    },
    addEventListener() {},
    removeEventListener() {},
  };
  return n as unknown as HTMLElement;
}

/**
 * useFakeDom has each test of the enclosing describe run with mock timers
 * (setTimeout, setInterval and Date, from 0) and a document whose
 * createElement makes fakeNodes.
 */
export function useFakeDom(): void {
  beforeEach(() => {
    mock.timers.enable({ apis: ["setTimeout", "setInterval", "Date"], now: 0 });
    (globalThis as { document?: unknown }).document = { createElement: fakeNode };
  });
  afterEach(() => {
    mock.timers.reset();
    delete (globalThis as { document?: unknown }).document;
  });
}

/** flush lets the promises already settled run their callbacks, rounds deep. */
export async function flush(rounds = 10): Promise<void> {
  for (let i = 0; i < rounds; i++) await Promise.resolve();
}
