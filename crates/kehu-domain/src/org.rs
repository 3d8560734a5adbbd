//! The organisation tree as the rules read it: which units lie below a unit, where a unit sits,
//! and whether moving a unit would make a cycle. Every rule that asks about units (visibility's
//! `unit` scope, who heads a division) asks here.

use std::collections::{BTreeMap, BTreeSet};

/// Of `candidates`, who holds the fewest customers (`held`: staff id and how many; anyone not
/// listed holds none), the lowest id among equals; `None` when there is no candidate. The rule
/// every hand-over asks (R12.6: a developed customer goes to the salesperson with the fewest).
pub fn fewest_held(candidates: &[i64], held: &[(i64, i64)]) -> Option<i64> {
    candidates
        .iter()
        .map(|c| (held.iter().find(|(s, _)| s == c).map(|(_, n)| *n).unwrap_or(0), *c))
        .min()
        .map(|(_, c)| c)
}

/// A tenant's units by id, each with its parent.
#[derive(Debug, Clone, Default)]
pub struct Org {
    parent: BTreeMap<i64, Option<i64>>,
}

impl Org {
    pub fn new(units: impl IntoIterator<Item = (i64, Option<i64>)>) -> Org {
        Org {
            parent: units.into_iter().collect(),
        }
    }

    pub fn contains(&self, unit: i64) -> bool {
        self.parent.contains_key(&unit)
    }

    /// `unit` and every unit below it, in id order. A unit the tree does not know is alone.
    pub fn subtree(&self, unit: i64) -> Vec<i64> {
        let mut out = BTreeSet::from([unit]);
        // A few passes over a small tree; a cycle in stored data cannot loop forever.
        loop {
            let before = out.len();
            for (id, parent) in &self.parent {
                if parent.is_some_and(|p| out.contains(&p)) {
                    out.insert(*id);
                }
            }
            if out.len() == before {
                break;
            }
        }
        out.into_iter().collect()
    }

    /// Who heads `unit`: of `holders` (active staff holding a head role, with their unit), those
    /// in the unit itself, or else in the nearest unit above that has one; never `except` (nobody
    /// heads themselves). Empty for no unit, or none up to the top.
    pub fn heads_of(&self, unit: Option<i64>, holders: &[(i64, Option<i64>)], except: i64) -> Vec<i64> {
        let mut at = unit;
        let mut steps = 0;
        while let Some(u) = at {
            let here: Vec<i64> = holders
                .iter()
                .filter(|(id, hu)| *hu == Some(u) && *id != except)
                .map(|(id, _)| *id)
                .collect();
            if !here.is_empty() {
                return here;
            }
            steps += 1;
            if steps > self.parent.len() {
                break;
            }
            at = self.parent.get(&u).copied().flatten();
        }
        Vec::new()
    }

    /// Whom `head` heads: of `staff` (each with their unit), those whose heads, as
    /// [`Org::heads_of`] answers with `holders`, include `head` (R11.6: the parties whose
    /// conflicts a division head signs).
    pub fn headed_by(&self, head: i64, staff: &[(i64, Option<i64>)], holders: &[(i64, Option<i64>)]) -> Vec<i64> {
        staff
            .iter()
            .filter(|(id, unit)| self.heads_of(*unit, holders, *id).contains(&head))
            .map(|(id, _)| *id)
            .collect()
    }

    /// Whether `unit` is `ancestor` or lies below it.
    pub fn is_within(&self, unit: i64, ancestor: i64) -> bool {
        let mut at = Some(unit);
        let mut steps = 0;
        while let Some(u) = at {
            if u == ancestor {
                return true;
            }
            steps += 1;
            if steps > self.parent.len() {
                return false;
            }
            at = self.parent.get(&u).copied().flatten();
        }
        false
    }

    /// Whether putting `unit` under `new_parent` would put it below itself.
    pub fn would_cycle(&self, unit: i64, new_parent: Option<i64>) -> bool {
        new_parent.is_some_and(|p| self.is_within(p, unit))
    }

    /// The units as a tree for display: each unit with its depth, parents before children,
    /// siblings in id order.
    pub fn outline(&self) -> Vec<(i64, usize)> {
        let mut out = Vec::new();
        let roots: Vec<i64> = self
            .parent
            .iter()
            .filter(|(_, p)| p.is_none_or(|p| !self.parent.contains_key(&p)))
            .map(|(id, _)| *id)
            .collect();
        let mut stack: Vec<(i64, usize)> = roots.into_iter().rev().map(|r| (r, 0)).collect();
        let mut seen = BTreeSet::new();
        while let Some((id, depth)) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            out.push((id, depth));
            let children: Vec<i64> = self
                .parent
                .iter()
                .filter(|(_, p)| **p == Some(id))
                .map(|(c, _)| *c)
                .collect();
            stack.extend(children.into_iter().rev().map(|c| (c, depth + 1)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_unit_is_headed_by_its_own_head_or_the_nearest_above_never_by_oneself() {
        let o = org();
        // 20 heads unit 2, 10 the company; 30 heads team 4 and is the one asking about themself.
        let holders = [(10, Some(1)), (20, Some(2)), (30, Some(4))];
        assert_eq!(o.heads_of(Some(5), &holders, 99), vec![30], "team 5 is in team 4");
        assert_eq!(
            o.heads_of(Some(4), &holders, 30),
            vec![20],
            "not oneself: the next one up"
        );
        assert_eq!(o.heads_of(Some(3), &holders, 99), vec![10]);
        assert_eq!(o.heads_of(None, &holders, 99), Vec::<i64>::new());
        assert_eq!(o.heads_of(Some(5), &[], 99), Vec::<i64>::new());
    }

    #[test]
    fn the_fewest_held_is_chosen_and_ties_go_to_the_lowest_id() {
        assert_eq!(fewest_held(&[], &[(1, 0)]), None);
        assert_eq!(fewest_held(&[3, 5, 7], &[(3, 4), (5, 2), (7, 2)]), Some(5));
        // Someone holding nothing is not in the counts at all.
        assert_eq!(fewest_held(&[3, 9], &[(3, 1)]), Some(9));
    }

    fn org() -> Org {
        // 1 company; 2, 3 departments; 4 a team in 2; 5 a team in 4.
        Org::new([(1, None), (2, Some(1)), (3, Some(1)), (4, Some(2)), (5, Some(4))])
    }

    #[test]
    fn a_subtree_holds_the_unit_and_everything_below() {
        let o = org();
        assert_eq!(o.subtree(2), vec![2, 4, 5]);
        assert_eq!(o.subtree(1), vec![1, 2, 3, 4, 5]);
        assert_eq!(o.subtree(3), vec![3]);
        assert_eq!(o.subtree(99), vec![99]);
        assert!(o.is_within(5, 2) && o.is_within(2, 2) && !o.is_within(3, 2));
    }

    #[test]
    fn moving_a_unit_below_itself_is_a_cycle() {
        let o = org();
        assert!(o.would_cycle(2, Some(5)));
        assert!(o.would_cycle(2, Some(2)));
        assert!(!o.would_cycle(4, Some(3)));
        assert!(!o.would_cycle(4, None));
    }

    #[test]
    fn the_outline_puts_parents_before_children() {
        assert_eq!(org().outline(), vec![(1, 0), (2, 1), (4, 2), (5, 3), (3, 1)]);
    }
}
