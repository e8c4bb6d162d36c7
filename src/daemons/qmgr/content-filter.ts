// qmgr(8)'s content filter routing: a message stamped with a filter
// (`content_filter` of the service that received it, or a FILTER action of
// an access or header/body_checks table) goes, every recipient of it, to
// that transport and next hop instead of where trivial-rewrite resolves it.
// An empty next hop means $default_filter_nexthop, else the recipient's
// domain (Postfix 2.7 and later).

export interface FilterRoute {
  readonly transport: string;
  readonly nexthop: string;
}

/** `transport:nexthop` split once; undefined for a request qmgr cannot use (no `:`, no transport). */
export function parseFilter(filter: string): { transport: string; nexthop: string } | undefined {
  const colon = filter.indexOf(':');
  if (colon <= 0) return undefined;
  const transport = filter.slice(0, colon).trim();
  if (transport === '' || /\s/.test(transport)) return undefined;
  return { transport, nexthop: filter.slice(colon + 1).trim() };
}

/** Where one recipient of a filtered message goes. */
export function filterRoute(
  filter: { transport: string; nexthop: string },
  recipient: string,
  defaultNexthop: string,
): FilterRoute {
  if (filter.nexthop !== '') return filter;
  if (defaultNexthop !== '') return { transport: filter.transport, nexthop: defaultNexthop };
  const at = recipient.lastIndexOf('@');
  return { transport: filter.transport, nexthop: at >= 0 ? recipient.slice(at + 1) : '' };
}
