import { connect, type PeerCertificate, type DetailedPeerCertificate } from "node:tls";
import { fail, pass, type Check } from "../finding.js";

const DAY_MS = 86_400_000;

/**
 * tls: when the URL is https, the certificate chain the proxy presents must verify (against the system CAs and --ca),
 * match the host name, and not expire within --cert-warn-days.
 */
export const tlsCheck: Check = {
  name: "tls",
  async run({ opts }) {
    const { target } = opts;
    if (target.base.protocol !== "https:") {
      return pass("plain http: no TLS to check here (terminate TLS at the proxy in production)", [`URL scheme ${target.base.protocol}`], "tls");
    }
    const host = target.base.hostname;
    const port = Number(target.base.port || 443);
    const r = await inspect(host, port, target.ca, opts.timeoutMs);
    if (typeof r === "string") return fail("error", `TLS connection failed: ${r}`, [`${host}:${port}`], "check the proxy's TLS listener and certificate", "tls");
    const evidence = [`${r.protocol ?? "TLS"} to ${host}:${port}`, `chain: ${r.chain.join(" <- ")}`, `valid until ${r.validTo.toISOString()} (${r.daysLeft} days)`];
    if (r.authorizationError) evidence.push(`verification: ${r.authorizationError}`);
    const data = { daysLeft: r.daysLeft, validTo: r.validTo.toISOString(), authorized: r.authorized, error: r.authorizationError ?? null, chain: r.chain };
    if (r.daysLeft < 0) return fail("error", `the certificate expired ${-r.daysLeft} days ago`, evidence, "renew the certificate", "tls", data);
    if (!r.authorized) {
      return fail(
        "error",
        `the certificate does not verify (${r.authorizationError ?? "unknown error"}): browsers and clients refuse it`,
        evidence,
        "serve the full chain (leaf + intermediates) with a certificate for this host name from a trusted CA",
        "tls",
        data,
      );
    }
    if (r.daysLeft < opts.certWarnDays) return fail("warn", `the certificate expires in ${r.daysLeft} days`, evidence, "renew the certificate (automate renewal)", "tls", data);
    return pass(`certificate valid for ${r.daysLeft} more days, chain verifies`, evidence, "tls", data);
  },
};

interface TlsInfo {
  authorized: boolean;
  authorizationError?: string;
  chain: string[];
  validTo: Date;
  daysLeft: number;
  protocol: string | null;
}

function inspect(host: string, port: number, ca: string | Buffer | undefined, timeoutMs: number): Promise<TlsInfo | string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, servername: isIp(host) ? undefined : host, rejectUnauthorized: false, ...(ca ? { ca } : {}) });
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(`no TLS handshake within ${timeoutMs} ms`);
    }, timeoutMs);
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      const leaf = socket.getPeerCertificate(true);
      const chain = describeChain(leaf);
      const validTo = new Date(leaf.valid_to);
      const err = socket.authorizationError;
      const info: TlsInfo = {
        authorized: socket.authorized,
        ...(err ? { authorizationError: String(err) } : {}),
        chain,
        validTo,
        daysLeft: Math.floor((validTo.getTime() - Date.now()) / DAY_MS),
        protocol: socket.getProtocol(),
      };
      socket.end();
      resolve(info);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
}

function describeChain(leaf: DetailedPeerCertificate): string[] {
  const out: string[] = [];
  let cert: DetailedPeerCertificate | undefined = leaf;
  const seen = new Set<string>();
  while (cert && cert.fingerprint256 && !seen.has(cert.fingerprint256) && out.length < 6) {
    seen.add(cert.fingerprint256);
    out.push(name(cert));
    cert = cert.issuerCertificate;
  }
  return out;
}

function name(c: PeerCertificate): string {
  const cn = (c.subject as unknown as Record<string, string> | undefined)?.CN;
  return cn ?? c.subjectaltname ?? "?";
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}
