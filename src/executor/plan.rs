//! The planner: which nodes a run computes, which values it takes from what is at hand,
//! and how the work falls into units. Pure: it reads one state per node (its inputs,
//! whether it could be keyed, what the store and the resident cache hold for it) and
//! touches no file or device, so it is tested on its own.
//!
//! A node's value is needed when an output that is not a verified store hit depends on
//! it. A needed value is, in order of preference: resident (the executor's cache), loaded
//! from a stored upstream output that holds it exactly, or computed. Computed nodes
//! joined by edges form a unit: the executor records a unit's work for one frame as one
//! program, so an intermediate shared by several outputs is computed once and never
//! leaves the device.

/// What the store holds for a materialized node, as the look-up found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stored {
    /// Nothing usable (no record, a broken one, or not looked up).
    Nothing,
    /// A verified file that holds the values exactly (so it can stand in for them).
    Exact,
    /// A verified file, narrowed (so it serves the output but not downstream nodes).
    Inexact,
}

/// One node, as the planner sees it.
#[derive(Clone, Debug)]
pub(crate) struct NodeState {
    /// The nodes it reads.
    pub inputs: Vec<usize>,
    /// Whether it has a key (a source that could not be read has none, nor does
    /// anything downstream of it).
    pub keyed: bool,
    /// Whether it is a materialized output.
    pub output: bool,
    /// What the store holds for it.
    pub stored: Stored,
    /// Whether the executor's resident cache holds its value.
    pub resident: bool,
}

/// How a node's value is had.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum How {
    /// Not needed.
    Skip,
    /// Needed, but it has no key: it cannot be had.
    Failed,
    /// From the resident cache.
    Resident,
    /// Loaded from its stored output file.
    Load,
    /// Computed (decoded, for a source).
    Compute,
}

/// Work the executor records as one program per frame.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Values at hand that members read (resident or loaded), in node order.
    pub inputs: Vec<usize>,
    /// Nodes computed, in node (topological) order.
    pub members: Vec<usize>,
    /// Outputs to download and write, in node order.
    pub outputs: Vec<usize>,
}

/// The plan of a run.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Per node.
    pub how: Vec<How>,
    /// Outputs served by the store as they are.
    pub hits: Vec<usize>,
    /// The work, in the order of each unit's first output.
    pub units: Vec<Unit>,
}

/// Plans a run. `refresh` ignores the store and the resident cache.
pub(crate) fn plan(nodes: &[NodeState], refresh: bool) -> Plan {
    let n = nodes.len();
    let mut how = vec![How::Skip; n];
    let mut hits = Vec::new();
    let stored = |i: usize| {
        if refresh {
            Stored::Nothing
        } else {
            nodes[i].stored
        }
    };
    let resident = |i: usize| !refresh && nodes[i].resident;
    // Outputs first, in order; each miss pulls in what it needs.
    let mut misses = Vec::new();
    for o in (0..n).filter(|&o| nodes[o].output) {
        if nodes[o].keyed && stored(o) != Stored::Nothing {
            hits.push(o);
        } else {
            misses.push(o);
        }
    }
    for &o in &misses {
        let mut stack = vec![(o, true)];
        while let Some((i, top)) = stack.pop() {
            if how[i] != How::Skip {
                continue;
            }
            how[i] = if !nodes[i].keyed {
                How::Failed
            } else if resident(i) {
                How::Resident
            } else if !top && stored(i) == Stored::Exact {
                How::Load
            } else {
                stack.extend(nodes[i].inputs.iter().map(|&j| (j, false)));
                How::Compute
            };
        }
    }

    // Units: computed nodes joined by edges; an output served resident is one alone.
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    for i in (0..n).filter(|&i| how[i] == How::Compute) {
        for &j in nodes[i].inputs.iter().filter(|&&j| how[j] == How::Compute) {
            let (a, b) = (find(&mut parent, i), find(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        }
    }
    let mut units: Vec<(usize, Unit)> = Vec::new(); // (root, unit)
    let unit_of = |root: usize, units: &mut Vec<(usize, Unit)>| -> usize {
        match units.iter().position(|(r, _)| *r == root) {
            Some(k) => k,
            None => {
                units.push((root, Unit::default()));
                units.len() - 1
            }
        }
    };
    // Walk the missing outputs in order so units come in the order of their first one.
    for &o in &misses {
        match how[o] {
            How::Compute => {
                let root = find(&mut parent, o);
                let k = unit_of(root, &mut units);
                units[k].1.outputs.push(o);
            }
            How::Resident => {
                let k = unit_of(n + o, &mut units); // a root no node has
                let u = &mut units[k].1;
                u.inputs.push(o);
                u.outputs.push(o);
            }
            _ => {}
        }
    }
    for i in (0..n).filter(|&i| how[i] == How::Compute) {
        let root = find(&mut parent, i);
        let k = unit_of(root, &mut units);
        let u = &mut units[k].1;
        u.members.push(i);
        for &j in &nodes[i].inputs {
            if matches!(how[j], How::Resident | How::Load) && !u.inputs.contains(&j) {
                u.inputs.push(j);
            }
        }
    }
    let mut units: Vec<Unit> = units.into_iter().map(|(_, u)| u).collect();
    for u in &mut units {
        u.inputs.sort_unstable();
        u.outputs.sort_unstable();
    }
    Plan { how, hits, units }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(inputs: &[usize]) -> NodeState {
        NodeState {
            inputs: inputs.to_vec(),
            keyed: true,
            output: false,
            stored: Stored::Nothing,
            resident: false,
        }
    }

    fn out(inputs: &[usize]) -> NodeState {
        NodeState {
            output: true,
            ..node(inputs)
        }
    }

    use How::*;

    #[test]
    fn a_shared_intermediate_is_one_unit_computed_once() {
        // 0 src -> 1 gaussian -> 2 fixed (out), 1 -> 3 otsu (out)
        let nodes = [node(&[]), node(&[0]), out(&[1]), out(&[1])];
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Compute; 4]);
        assert_eq!(
            p.units,
            [Unit {
                inputs: vec![],
                members: vec![0, 1, 2, 3],
                outputs: vec![2, 3],
            }]
        );
    }

    #[test]
    fn an_exact_upstream_hit_stands_in_for_its_chain() {
        // 0 src -> 1 box (out, stored exactly) -> 2 gaussian (out, missing)
        let mut nodes = [node(&[]), out(&[0]), out(&[1])];
        nodes[1].stored = Stored::Exact;
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Skip, Load, Compute]);
        assert_eq!(p.hits, [1]);
        assert_eq!(
            p.units,
            [Unit {
                inputs: vec![1],
                members: vec![2],
                outputs: vec![2],
            }]
        );
        // A narrowed file serves its output but not what is downstream of it.
        nodes[1].stored = Stored::Inexact;
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Compute, Compute, Compute]);
        assert_eq!(p.hits, [1]);
        assert_eq!(p.units[0].outputs, [2], "the hit is not written again");
    }

    #[test]
    fn refresh_ignores_store_and_resident_values() {
        let mut nodes = [node(&[]), out(&[0]), out(&[1])];
        nodes[1].stored = Stored::Exact;
        nodes[2].stored = Stored::Exact;
        nodes[0].resident = true;
        let p = plan(&nodes, false);
        assert_eq!(
            (p.how.as_slice(), p.hits.as_slice()),
            (&[Skip; 3][..], &[1, 2][..])
        );
        assert!(p.units.is_empty());
        let p = plan(&nodes, true);
        assert_eq!(p.how, [Compute; 3]);
        assert!(p.hits.is_empty());
        assert_eq!(p.units[0].outputs, [1, 2]);
    }

    #[test]
    fn a_failed_source_fails_its_chain_alone() {
        // Two files: 0 -> 1 (out) and 2 -> 3 (out); file 0 could not be read.
        let mut nodes = [node(&[]), out(&[0]), node(&[]), out(&[2])];
        nodes[0].keyed = false;
        nodes[1].keyed = false;
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Skip, Failed, Compute, Compute]);
        assert_eq!(p.units.len(), 1);
        assert_eq!(p.units[0].members, [2, 3]);
    }

    #[test]
    fn nodes_no_missing_output_needs_are_skipped() {
        // 0 src -> 1 g -> 2 (out, hit); 0 -> 3 box -> 4 (out, miss)
        let mut nodes = [node(&[]), node(&[0]), out(&[1]), node(&[0]), out(&[3])];
        nodes[2].stored = Stored::Inexact;
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Compute, Skip, Skip, Compute, Compute]);
        assert_eq!(p.units[0].members, [0, 3, 4]);
    }

    #[test]
    fn resident_values_cut_the_chain_and_serve_outputs() {
        // 0 src -> 1 g (resident) -> 2 t (out); 3 other (out, resident itself)
        let mut nodes = [node(&[]), node(&[0]), out(&[1]), node(&[]), out(&[3])];
        nodes[1].resident = true;
        nodes[4].resident = true;
        let p = plan(&nodes, false);
        assert_eq!(p.how, [Skip, Resident, Compute, Skip, Resident]);
        assert_eq!(
            p.units,
            [
                Unit {
                    inputs: vec![1],
                    members: vec![2],
                    outputs: vec![2],
                },
                Unit {
                    inputs: vec![4],
                    members: vec![],
                    outputs: vec![4],
                },
            ]
        );
    }

    #[test]
    fn units_follow_their_first_output_and_join_multi_input_nodes() {
        // Sources 0 and 1; 2 reads both; 3 reads 1 alone. 4 is a third source.
        let nodes = [node(&[]), node(&[]), out(&[0, 1]), out(&[1]), out(&[])];
        let p = plan(&nodes, false);
        assert_eq!(p.units.len(), 2);
        assert_eq!(p.units[0].members, [0, 1, 2, 3]);
        assert_eq!(p.units[0].outputs, [2, 3]);
        assert_eq!(p.units[1].members, [4]);
    }
}
