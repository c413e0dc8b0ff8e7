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
    if (!this.#names.includes("/")) {
      ctx.io.of("/").use((_socket, next) => {
        ctx.metrics.namespaceConnects.inc({ namespace: "/", outcome: "invalid_namespace" });
        next(new PylonError("invalid_namespace"));
      });
    }
    // Undeclared names: a parent-namespace predicate that always says no lets socket.io answer its standard
    // "Invalid namespace" while we count the attempt.
    ctx.io.of((_name: string, _auth: unknown, next: (err: Error | null, ok: boolean) => void) => {
      ctx.metrics.namespaceConnects.inc({ namespace: "undeclared", outcome: "invalid_namespace" });
      next(null, false);
    });
    for (const name of this.#names) {
      ctx.io.of(name);
      this.#onDeclare(name);
    }
  }
}
