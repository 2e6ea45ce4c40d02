/**
 * The page of a `navigate` event. Backstage's route tracker sends the
 * visited path as the subject and the route's parameters as attributes
 * (`{namespace: 'default', kind: 'component', name: 'payments'}`); the
 * route is the path with each parameter's value put back as `:name`, so
 * that every entity page counts as one page, not one page per entity.
 */
export function pageOf(
  subject: string,
  params: Record<string, unknown> | undefined,
  mode: 'route' | 'path',
): string {
  const path = subject.split(/[?#]/, 1)[0] || '/';
  if (mode === 'path' || !params) {
    return path;
  }
  const names = new Map<string, string>();
  for (const [name, value] of Object.entries(params)) {
    if (typeof value === 'string' && value !== '' && !names.has(value)) {
      names.set(value, name);
    }
  }
  return path
    .split('/')
    .map(segment => {
      let decoded = segment;
      try {
        decoded = decodeURIComponent(segment);
      } catch {
        // A malformed escape is kept as written.
      }
      const name = names.get(decoded);
      return name ? `:${name}` : segment;
    })
    .join('/');
}
