//! The plan of a parallel pull: a big board is walked group by group, each group's walk a cursor
//! chain (its first page filtered by group, then `next_items_page`), up to `width` walks with a
//! request in flight at once. Pure bookkeeping, no HTTP and no pgrx: `pg/pull.rs` sends what it
//! says and tells it what came back.

use std::collections::{HashMap, VecDeque};

/// The next request of one group's walk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PageRequest {
    /// The group's first page (`items_page(query_params:)` filtered by the group): a new cursor.
    First,
    /// The following page of the walk's cursor.
    Next(String),
}

/// Which groups are waiting, walking and done.
#[derive(Debug)]
pub struct GroupWalks {
    waiting: VecDeque<String>,
    width: usize,
    walking: usize,
    restarts: HashMap<String, u32>,
    max_restarts: u32,
}

impl GroupWalks {
    /// `groups` in board order; `width` walks at once (at least 1); an expired cursor restarts a
    /// group's walk at most `max_restarts` times.
    pub fn new(groups: Vec<String>, width: usize, max_restarts: u32) -> GroupWalks {
        GroupWalks {
            waiting: groups.into(),
            width: width.max(1),
            walking: 0,
            restarts: HashMap::new(),
            max_restarts,
        }
    }

    /// The first requests: the first page of up to `width` groups.
    pub fn start(&mut self) -> Vec<(String, PageRequest)> {
        let mut out = Vec::new();
        while self.walking < self.width {
            let Some(g) = self.waiting.pop_front() else {
                break;
            };
            self.walking += 1;
            out.push((g, PageRequest::First));
        }
        out
    }

    /// A page of `group`'s walk arrived, with `cursor` for the rest (None: the group is done).
    /// Returns the request that takes its place: the walk's next page, or the first page of the
    /// next waiting group.
    pub fn page(&mut self, group: &str, cursor: Option<String>) -> Option<(String, PageRequest)> {
        if let Some(c) = cursor {
            return Some((group.to_string(), PageRequest::Next(c)));
        }
        match self.waiting.pop_front() {
            Some(g) => Some((g, PageRequest::First)),
            None => {
                self.walking = self.walking.saturating_sub(1);
                None
            }
        }
    }

    /// `group`'s cursor expired: its walk starts again from its first page (the pages it wrote
    /// stay written; unchanged rows are skipped). None when it has restarted `max_restarts` times.
    pub fn expired(&mut self, group: &str) -> Option<(String, PageRequest)> {
        let n = self.restarts.entry(group.to_string()).or_default();
        if *n >= self.max_restarts {
            return None;
        }
        *n += 1;
        Some((group.to_string(), PageRequest::First))
    }

    /// Walks with a request in flight.
    pub fn walking(&self) -> usize {
        self.walking
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a plan to its end: `pages[g]` pages per group, the oldest request answered first.
    /// Returns (requests in the order sent, the most in flight at once).
    fn simulate(
        pages: &[(&str, usize)],
        width: usize,
        expire: Option<(&str, usize)>,
    ) -> (Vec<(String, PageRequest)>, usize) {
        let mut w = GroupWalks::new(pages.iter().map(|(g, _)| g.to_string()).collect(), width, 3);
        let mut inflight: VecDeque<(String, PageRequest, usize)> =
            w.start().into_iter().map(|(g, r)| (g, r, 0)).collect();
        let mut sent: Vec<(String, PageRequest)> = inflight
            .iter()
            .map(|(g, r, _)| (g.clone(), r.clone()))
            .collect();
        let mut peak = inflight.len();
        let mut expired = false;
        while let Some((g, _, n)) = inflight.pop_front() {
            let next = if !expired && expire == Some((g.as_str(), n)) {
                expired = true;
                w.expired(&g).map(|(g, r)| (g, r, 0))
            } else {
                let total = pages.iter().find(|(x, _)| *x == g).unwrap().1;
                let cursor = (n + 1 < total).then(|| format!("{g}:{}", n + 1));
                w.page(&g, cursor).map(|(g2, r)| {
                    let k = if g2 == g { n + 1 } else { 0 };
                    (g2, r, k)
                })
            };
            if let Some(x) = next {
                sent.push((x.0.clone(), x.1.clone()));
                inflight.push_back(x);
            }
            peak = peak.max(inflight.len());
            assert!(inflight.len() <= width);
            assert_eq!(w.walking(), inflight.len());
        }
        (sent, peak)
    }

    #[test]
    fn every_group_is_walked_once_within_the_width() {
        let groups = [("a", 3), ("b", 1), ("c", 2), ("d", 4), ("e", 1)];
        let (sent, peak) = simulate(&groups, 2, None);
        for (g, n) in groups {
            let firsts = sent
                .iter()
                .filter(|(x, r)| x == g && *r == PageRequest::First)
                .count();
            let nexts = sent
                .iter()
                .filter(|(x, r)| x == g && matches!(r, PageRequest::Next(_)))
                .count();
            assert_eq!((firsts, nexts), (1, n - 1), "group {g}");
        }
        assert_eq!(peak, 2);
        // Groups start in board order.
        let starts: Vec<&str> = sent
            .iter()
            .filter(|(_, r)| *r == PageRequest::First)
            .map(|(g, _)| g.as_str())
            .collect();
        assert_eq!(starts, ["a", "b", "c", "d", "e"]);
        // Wider than the groups: all at once.
        let (_, peak) = simulate(&groups, 10, None);
        assert_eq!(peak, 5);
        let (sent, peak) = simulate(&groups, 1, None);
        assert_eq!((sent.len(), peak), (11, 1));
    }

    #[test]
    fn an_expired_cursor_restarts_its_group_only() {
        let groups = [("a", 3), ("b", 3)];
        let (sent, _) = simulate(&groups, 2, Some(("b", 1)));
        let count = |g: &str, first: bool| {
            sent.iter()
                .filter(|(x, r)| x == g && (*r == PageRequest::First) == first)
                .count()
        };
        assert_eq!((count("a", true), count("a", false)), (1, 2));
        // b: first, one next (expired), first again, two nexts.
        assert_eq!((count("b", true), count("b", false)), (2, 3));
        let mut w = GroupWalks::new(vec!["a".into()], 1, 2);
        w.start();
        assert!(w.expired("a").is_some());
        assert!(w.expired("a").is_some());
        assert_eq!(w.expired("a"), None, "restarts are bounded");
    }
}
