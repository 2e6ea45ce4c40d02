export interface Config {
  uptake?: {
    /**
     * The Uptake org this Backstage instance reports as (a slug).
     * @visibility frontend
     */
    org: string;
    /**
     * Who a person is in Uptake: the user entity ref (default) or the
     * e-mail of the user's profile. The backend plugin reads it too.
     * @visibility frontend
     */
    userId?: 'entityRef' | 'email';
    analytics?: {
      /**
       * The Backstage proxy endpoint that forwards to Uptake with the
       * ingest key (default `/uptake`).
       * @visibility frontend
       */
      proxyPath?: string;
      /**
       * `route` (default): a page is its route, `/catalog/:namespace/:kind/:name`;
       * `path`: the path as visited, without query and fragment.
       * @visibility frontend
       */
      page?: 'route' | 'path';
      /**
       * Minutes without activity after which the next event starts a new
       * session, counted as one login (default 30).
       * @visibility frontend
       */
      sessionMinutes?: number;
      /**
       * Send scaffolder `create` events as action runs (default true).
       * @visibility frontend
       */
      scaffolderRuns?: boolean;
    };
  };
}
