// Node's own IPv4 pattern (node:net isIPv4): four decimal octets, no leading zeros.
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]\d|\d)$/;

/**
 * Whether a host is loopback: localhost, 127.0.0.0/8 or ::1, as a listen
 * address or URL.hostname spells it (IPv6 with or without brackets). No
 * Node.js import, so that the admin page checks token URLs as the broker does.
 */
export function isLoopbackHost(host: string): boolean {
  const lower = host.toLowerCase().replace(/^\[(.*)\]$/, "$1");
  if (lower === "localhost" || lower === "::1" || lower === "0:0:0:0:0:0:0:1") {
    return true;
  }
  const v4 = lower.startsWith("::ffff:") ? lower.slice("::ffff:".length) : lower;
  return ipv4.test(v4) && v4.startsWith("127.");
}
