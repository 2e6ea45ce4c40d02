export interface Config {
  /** Where and how the Uptake backend plugin sends the portal's usage. */
  uptake?: {
    /** Uptake's address, e.g. https://uptake.internal.example.com */
    baseUrl: string;
    /**
     * The Uptake org this Backstage instance reports as (a slug).
     * @visibility frontend
     */
    org: string;
    /**
     * An Uptake ingest key, from an environment variable:
     * `apiKey: ${UPTAKE_INGEST_KEY}`.
     * @visibility secret
     */
    apiKey: string;
    /**
     * Who a person is in Uptake: the user entity ref (default) or the
     * e-mail of the user's profile. Use the same value in the frontend.
     * @visibility frontend
     */
    userId?: 'entityRef' | 'email';
    /** Groups (entity refs) whose direct members are Uptake admins. */
    adminGroups?: string[];
    catalog?: {
      /** Minutes between two catalog reads (default 10). */
      frequencyMinutes?: number;
      /** Entity kinds left out of the counts (default: Location). */
      excludeKinds?: string[];
    };
  };
}
