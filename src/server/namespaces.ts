import type { PylonConfig } from "../config/index.js";
import { PylonError } from "../protocol/errors.js";
import type { PylonContext, PylonModule } from "./module.js";

/**
 * Declares the configured namespaces. socket.io answers "Invalid namespace" for any other name; the main namespace "/"
 * always exists in socket.io, so when it is not declared it refuses connects with the same standard error.
 */
export class NamespaceRegistry implements PylonModule {
  readonly name = "namespaces";
  readonly #names: string[];
  readonly #onDeclare: (name: string) => void;

  constructor(config: PylonConfig, onDeclare: (name: string) => void) {
    const names = config.namespaces.map((n) => n.name);
    if (config.server.demo && !names.includes("/demo")) names.push("/demo");
    this.#names = [...new Set(names)];
    this.#onDeclare = onDeclare;
  }

  get names(): readonly string[] {
    return this.#names;
  }

  setup(ctx: PylonContext): void {
    const connects = ctx.metrics.perConnection.namespaceConnects;
    if (!this.#names.includes("/")) {
      const refusedRoot = connects.of2("/", "invalid_namespace");
      ctx.io.of("/").use((_socket, next) => {
        refusedRoot.value++;
        next(new PylonError("invalid_namespace"));
      });
    }
    // Undeclared names: a parent-namespace predicate that always says no lets socket.io answer its standard
    // "Invalid namespace" while we count the attempt.
    const refusedUndeclared = connects.of2("undeclared", "invalid_namespace");
    ctx.io.of((_name: string, _auth: unknown, next: (err: Error | null, ok: boolean) => void) => {
      refusedUndeclared.value++;
      next(null, false);
    });
    for (const name of this.#names) {
      ctx.io.of(name);
      this.#onDeclare(name);
    }
  }
}
