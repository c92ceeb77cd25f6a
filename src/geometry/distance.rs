//! Where each state value sits and how far apart two locations are: what localisation
//! needs. A value of variable v at grid index (i_1, …) sits at c_a = (i_a + offset_a)·spacing_a
//! on the location axis of each grid axis a; the distance between two locations is Euclidean
//! over the location axes, each periodic axis of extent E measured the short way round,
//! min(|Δc|, E − |Δc|).

use super::{Geometry, Location, MAX_AXES};

impl Geometry {
    /// The location of state value `j` (< the state length).
    pub fn element_location(&self, j: usize) -> Location {
        let variable = (self.variables().iter())
            .find(|v| v.range().contains(&j))
            .expect("j is inside the state");
        let mut coordinates = [0.0; MAX_AXES];
        let mut rest = j - variable.offset;
        for axis in variable.grid.iter().rev() {
            let i = rest % axis.points;
            rest /= axis.points;
            coordinates[axis.location_axis] = (i as f64 + axis.offset) * axis.spacing;
        }
        Location::new(&coordinates[..self.location_axes().len()])
            .expect("at most MAX_AXES location axes")
    }

    /// The distance between locations `a` and `b`.
    pub fn distance(&self, a: &Location, b: &Location) -> f64 {
        (self.location_axes().iter())
            .zip(a.coordinates().iter().zip(b.coordinates()))
            .map(|(axis, (ca, cb))| {
                let d = (ca - cb).abs();
                let d = if axis.periodic {
                    d.min(axis.extent - d)
                } else {
                    d
                };
                d * d
            })
            .sum::<f64>()
            .sqrt()
    }
}

#[cfg(test)]
mod tests {
    use crate::geometry::ring::sites;
    use crate::geometry::Location;

    #[test]
    fn sites_on_a_ring_are_at_their_index_and_distances_wrap() {
        let g = sites(40, true);
        assert_eq!(g.element_location(7).coordinates(), &[7.0]);
        let d = |a: f64, b: f64| g.distance(&Location::at(a), &Location::at(b));
        assert_eq!(d(1.0, 39.0), 2.0);
        assert_eq!(d(3.0, 10.5), 7.5);
        assert_eq!(d(0.0, 20.0), 20.0);
    }
}
