//! The tray icons tell the levels apart by shape, not only by colour (about
//! one man in twelve cannot tell red from green): read from the PNG files
//! the tray shows, in grey, as such an eye would.

use std::collections::HashSet;

struct Icon {
    width: usize,
    rgba: Vec<u8>,
}

fn load(name: &str) -> Icon {
    let path = format!("{}/icons/{name}", env!("CARGO_MANIFEST_DIR"));
    let decoder = png::Decoder::new(std::io::Cursor::new(std::fs::read(&path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut rgba = vec![0; reader.output_buffer_size().expect("a small icon")];
    let info = reader.next_frame(&mut rgba).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgba, "{name}");
    Icon { width: info.width as usize, rgba }
}

impl Icon {
    fn at(&self, x: usize, y: usize) -> [u8; 4] {
        let i = (y * self.width + x) * 4;
        [self.rgba[i], self.rgba[i + 1], self.rgba[i + 2], self.rgba[i + 3]]
    }

    /// What an eye without colour sees: dark, light or nothing, per pixel.
    fn shape(&self) -> Vec<u8> {
        self.rgba
            .chunks(4)
            .map(|p| match p[3] {
                0..=127 => 0,
                _ if (u32::from(p[0]) * 30 + u32::from(p[1]) * 59 + u32::from(p[2]) * 11) / 100 > 190 => 1,
                _ => 2,
            })
            .collect()
    }
}

const GREEN: [u8; 4] = [46, 160, 67, 255];

#[test]
fn each_level_has_a_shape_of_its_own() {
    let names = ["tray-none.png", "tray-green.png", "tray-orange.png", "tray-red.png", "tray-expired.png"];
    let shapes: Vec<Vec<u8>> = names.iter().map(|n| load(n).shape()).collect();
    for (i, a) in shapes.iter().enumerate() {
        for (j, b) in shapes.iter().enumerate().skip(i + 1) {
            let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
            assert!(differing > 200, "{} and {} differ in only {differing} pixels without colour", names[i], names[j]);
        }
    }
    assert_eq!(shapes.iter().collect::<HashSet<_>>().len(), names.len());
}

#[test]
fn the_ring_fills_with_the_time_left_and_the_urgent_ones_carry_a_mark() {
    // 12, 3, 6 and 9 o'clock on the ring, and the centre.
    let (three, six, nine, centre) = ((56, 32), (32, 56), (7, 32), (32, 32));
    let green = load("tray-green.png");
    for (x, y) in [three, six, nine, centre] {
        assert_eq!(green.at(x, y), GREEN, "green is a full ring around a full centre, at {x},{y}");
    }
    let orange = load("tray-orange.png");
    assert_eq!(orange.at(three.0, three.1)[3], 255);
    assert_ne!(orange.at(nine.0, nine.1), orange.at(three.0, three.1), "two thirds: 9 o'clock is the empty track");
    assert_eq!(orange.at(centre.0, centre.1)[3], 0, "no centre");
    let red = load("tray-red.png");
    assert_eq!(red.at(32, 24), red.at(three.0, three.1), "an exclamation mark in the ring's colour");
    assert_ne!(red.at(six.0, six.1), red.at(three.0, three.1), "a third of a ring: 6 o'clock is empty");
    let expired = load("tray-expired.png");
    assert_eq!(expired.at(centre.0, centre.1)[3], 255, "a cross through the centre");
    assert_eq!(expired.at(three.0, three.1)[3], 0, "and no ring");
}

#[test]
fn the_symbolic_sets_are_one_grey_with_the_same_shapes() {
    let levels = ["none", "green", "orange", "red", "expired"];
    for style in ["light", "dark"] {
        let icons: Vec<Icon> = levels.iter().map(|l| load(&format!("tray-{l}-{style}.png"))).collect();
        // One grey: every visible pixel has the same colour, only its opacity varies.
        let mut greys = HashSet::new();
        for icon in &icons {
            greys.extend(icon.rgba.chunks(4).filter(|p| p[3] >= 128).map(|p| [p[0], p[1], p[2]]));
        }
        assert_eq!(greys.len(), 1, "{style}: {greys:?}");
        // What is drawn solid tells the levels apart, as the coloured set's shapes do.
        let solid: Vec<Vec<bool>> = icons.iter().map(|i| i.rgba.chunks(4).map(|p| p[3] >= 200).collect()).collect();
        for (i, a) in solid.iter().enumerate() {
            for (j, b) in solid.iter().enumerate().skip(i + 1) {
                let differing = a.iter().zip(b).filter(|(x, y)| x != y).count();
                assert!(differing > 200, "{style}: {} and {} differ in {differing} pixels", levels[i], levels[j]);
            }
        }
        // The ring's unfilled part is a faint track, not nothing: orange's 9 o'clock.
        let nine = icons[2].at(7, 32)[3];
        assert!((40..200).contains(&nine), "{style}: the track's opacity is {nine}");
    }
}
