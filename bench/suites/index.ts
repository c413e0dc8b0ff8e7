// The registry of bench suites, in run order. A feature adds its figures by adding a suite module here.
import type { Suite } from "../lib/suite.js";
import { memorySuite } from "./memory.js";
import { fanoutSuite } from "./fanout.js";
import { echoSuite } from "./echo.js";
import { handshakeSuite } from "./handshake.js";
import { crossNodeSuite } from "./cross-node.js";
import { securitySuite } from "./security.js";
import { streamsSuite } from "./streams.js";
import { observabilitySuite } from "./observability.js";
import { instructionsSuite } from "./instructions.js";

export const SUITES: Suite[] = [memorySuite, fanoutSuite, echoSuite, handshakeSuite, crossNodeSuite, observabilitySuite, streamsSuite, securitySuite, instructionsSuite];
