//! Orgs, entity snapshots and data sources at an instant: seeks into their
//! logs through their keys, so their cost follows the number of orgs and
//! sources, not the length of their histories.

use std::collections::{BTreeMap, HashMap};

use anyhow::Context;

use super::ReportFacts;
use crate::args;
use crate::event::columns::decode_counts;
use crate::event::{EntityCount, OrgSlug};
use crate::metrics::facts::SourceSummary;
use crate::store::sql::first;
use crate::time::Micros;

/// The `sources (org, source)` CTE: each data source of `source_log` once
/// (and a row with a null source closing each org), found by one index
/// seek per org and per source (a loose index scan), not by reading the
/// whole log.
const SOURCES: &str = "source_orgs (org) AS (
        SELECT min(org) FROM source_log
        UNION ALL
        SELECT (SELECT min(l.org) FROM source_log l WHERE l.org > o.org)
          FROM source_orgs o WHERE o.org IS NOT NULL
    ),
    sources (org, source) AS (
        SELECT o.org, (SELECT min(l.source) FROM source_log l WHERE l.org = o.org)
          FROM source_orgs o WHERE o.org IS NOT NULL
        UNION ALL
        SELECT s.org, (SELECT min(l.source) FROM source_log l WHERE l.org = s.org AND l.source > s.source)
          FROM sources s WHERE s.source IS NOT NULL
    )";

impl ReportFacts<'_> {
    pub(super) fn read_orgs(&self) -> anyhow::Result<Vec<OrgSlug>> {
        let sql = format!(
            "SELECT o.value FROM org_activity a JOIN strings o ON o.id = a.org WHERE a.first <= ?1{}",
            self.org_filter("a.org")
        );
        let mut orgs = Vec::new();
        self.db().each(&sql, args![self.as_of.0], &mut |r| {
            orgs.push(Self::slug(&r.text(0)?)?);
            Ok(())
        })?;
        orgs.sort();
        Ok(orgs)
    }

    pub(super) fn read_snapshots_at(
        &self,
        t: Micros,
    ) -> anyhow::Result<BTreeMap<OrgSlug, Vec<EntityCount>>> {
        let t = t.min(self.as_of);
        let sql = format!(
            "SELECT o.value, (SELECT s.counts FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                               ORDER BY s.time DESC, s.id DESC LIMIT 1)
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x JOIN strings o ON o.id = x.org",
            self.org_filter("org")
        );
        let mut latest = BTreeMap::new();
        self.db().each(&sql, args![t.0], &mut |r| {
            let Some(counts) = r.opt_text(1)? else {
                return Ok(());
            };
            latest.insert(Self::slug(&r.text(0)?)?, decode_counts(&counts)?);
            Ok(())
        })?;
        Ok(latest)
    }

    pub(super) fn read_entity_total_at(&self, t: Micros) -> anyhow::Result<i64> {
        let sql = format!(
            "SELECT CAST(sum((SELECT s.total FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                          ORDER BY s.time DESC, s.id DESC LIMIT 1)) AS BIGINT)
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x",
            self.org_filter("org")
        );
        let total = first(self.db(), &sql, args![t.min(self.as_of).0], |r| {
            r.opt_int(0)
        })?;
        Ok(total.flatten().unwrap_or(0))
    }

    pub(super) fn read_first_snapshot(&self) -> anyhow::Result<Option<Micros>> {
        // Per org through the primary key: a plain `min(time)` would scan.
        let sql = format!(
            "SELECT min((SELECT s.time FROM snapshots s WHERE s.org = x.org AND s.time <= ?1
                         ORDER BY s.time LIMIT 1))
               FROM (SELECT org FROM org_activity WHERE 1 = 1{}) x",
            self.org_filter("org")
        );
        let earliest = first(self.db(), &sql, args![self.as_of.0], |r| r.opt_int(0))?;
        Ok(earliest.flatten().map(Micros))
    }

    pub(super) fn read_data_source_summaries(
        &self,
    ) -> anyhow::Result<BTreeMap<(OrgSlug, String), SourceSummary>> {
        // Per data source, four index seeks into its log.
        let sql = format!(
            "WITH RECURSIVE {SOURCES}
             SELECT x.org, x.source,
                    (SELECT l.time FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time, l.id LIMIT 1),
                    (SELECT l.kind FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time DESC, l.id DESC LIMIT 1),
                    (SELECT l.name FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1 AND l.kind IS NOT NULL
                      ORDER BY l.time DESC, l.id DESC LIMIT 1),
                    (SELECT CASE WHEN l.kind IS NULL THEN l.time END FROM source_log l
                      WHERE l.org = x.org AND l.source = x.source AND l.time <= ?1
                      ORDER BY l.time DESC, l.id DESC LIMIT 1)
               FROM sources x WHERE x.source IS NOT NULL{}",
            self.org_filter("x.org")
        );
        let mut rows = Vec::new();
        self.db().each(&sql, args![self.as_of.0], &mut |r| {
            let Some(first_created) = r.opt_int(2)? else {
                return Ok(());
            };
            let (kind, name) = (r.int(3)?, r.int(4)?);
            let deleted = r.opt_int(5)?;
            rows.push((r.int(0)?, r.int(1)?, first_created, kind, name, deleted));
            Ok(())
        })?;
        let names = self.names(
            rows.iter()
                .flat_map(|(org, source, _, kind, name, _)| [*org, *source, *kind, *name]),
        )?;
        let name = |id: i64| -> anyhow::Result<String> { Ok(Self::name(&names, id)?.to_string()) };
        rows.into_iter()
            .map(|(org, source, first_created, kind, source_name, deleted)| {
                Ok((
                    (Self::slug(&name(org)?)?, name(source)?),
                    SourceSummary {
                        first_created: Micros(first_created),
                        kind: name(kind)?,
                        name: name(source_name)?,
                        deleted_at: deleted.map(Micros),
                    },
                ))
            })
            .collect()
    }

    pub(super) fn read_data_sources_existing(&self, times: &[Micros]) -> anyhow::Result<Vec<i64>> {
        if times.is_empty() {
            return Ok(Vec::new());
        }
        // The instants are numbers, written into the SQL directly.
        let instants: Vec<String> = times
            .iter()
            .map(|t| format!("(CAST({} AS BIGINT))", t.min(&self.as_of).0))
            .collect();
        let sql = format!(
            "WITH RECURSIVE {SOURCES}, instants (t) AS (VALUES {})
             SELECT i.t, (SELECT count(*) FROM sources x
                           WHERE x.source IS NOT NULL{} AND
                                 (SELECT CASE WHEN l.kind IS NULL THEN 0 ELSE 1 END FROM source_log l
                                   WHERE l.org = x.org AND l.source = x.source AND l.time <= i.t
                                   ORDER BY l.time DESC, l.id DESC LIMIT 1) = 1)
               FROM instants i",
            instants.join(", "),
            self.org_filter("x.org")
        );
        let mut existing: HashMap<i64, i64> = HashMap::new();
        self.db().each(&sql, args![], &mut |r| {
            existing.insert(r.int(0)?, r.int(1)?);
            Ok(())
        })?;
        times
            .iter()
            .map(|t| {
                existing
                    .get(&t.min(&self.as_of).0)
                    .copied()
                    .context("an instant without its count")
            })
            .collect()
    }
}
