//! Draws the tray icons in `icons/` (`cargo run --example draw_tray_icons`).
//! Each level has its own shape as well as its colour, for the one man in
//! twelve who cannot tell red from green: a full ring with a solid centre
//! (green), a ring two thirds full (orange), a third of a ring around an
//! exclamation mark (red), a cross (act now), an empty grey ring (no account).
//! The `-light` and `-dark` sets draw the same shapes in one grey, for panels
//! that want monochrome (symbolic) icons; their ring's track is faint.

use std::f64::consts::PI;

const SIZE: u32 = 64;
/// Samples per pixel side: the edges are smooth at any panel scale.
const SUPER: u32 = 4;

type Rgba = [u8; 4];
const GREEN: Rgba = [46, 160, 67, 255];
const ORANGE: Rgba = [219, 109, 40, 255];
const RED: Rgba = [207, 34, 46, 255];
const GREY: Rgba = [140, 149, 159, 255];
const TRACK: Rgba = [214, 218, 222, 255];
/// The symbolic sets: a light grey for dark panels, a dark one for light panels.
const LIGHT: Rgba = [238, 238, 236, 255];
const DARK: Rgba = [46, 52, 54, 255];

/// The same grey, see-through: a monochrome ring's unfilled track.
fn faint(colour: Rgba) -> Rgba {
    [colour[0], colour[1], colour[2], 90]
}

/// One shape: whether a point (in pixels, from the top left) is inside, and its colour.
type Shape = Box<dyn Fn(f64, f64) -> Option<Rgba>>;

fn polar(x: f64, y: f64) -> (f64, f64) {
    let (dx, dy) = (x - 32.0, y - 32.0);
    // Angle from 12 o'clock, clockwise, in turns.
    let turn = (dx.atan2(-dy) / (2.0 * PI)).rem_euclid(1.0);
    ((dx * dx + dy * dy).sqrt(), turn)
}

/// The ring, filled clockwise from 12 o'clock for `share` of a turn, the rest a `track`.
fn ring(share: f64, colour: Rgba, track: Rgba) -> Shape {
    Box::new(move |x, y| {
        let (r, turn) = polar(x, y);
        (19.0..=30.0).contains(&r).then_some(if turn <= share { colour } else { track })
    })
}

fn dot(radius: f64, colour: Rgba) -> Shape {
    Box::new(move |x, y| (polar(x, y).0 <= radius).then_some(colour))
}

fn exclamation(colour: Rgba) -> Shape {
    Box::new(move |x, y| {
        let bar = (x - 32.0).abs() <= 3.5 && (19.0..=37.0).contains(&y);
        let point = ((x - 32.0).powi(2) + (y - 44.0).powi(2)).sqrt() <= 3.8;
        (bar || point).then_some(colour)
    })
}

fn cross(colour: Rgba) -> Shape {
    Box::new(move |x, y| {
        let (dx, dy) = (x - 32.0, y - 32.0);
        let near = |a: f64, b: f64| (a - b).abs() / 2f64.sqrt() <= 6.0;
        ((near(dx, dy) || near(dx, -dy)) && dx.abs() <= 24.0 && dy.abs() <= 24.0).then_some(colour)
    })
}

/// Renders `shapes` (later ones on top) with `SUPER`² samples per pixel.
fn render(shapes: &[Shape]) -> Vec<u8> {
    let mut rgba = Vec::with_capacity((SIZE * SIZE * 4) as usize);
    for py in 0..SIZE {
        for px in 0..SIZE {
            // Colour weighted by each sample's opacity; opacity averaged over all samples.
            let (mut sum, mut weight) = ([0u32; 3], 0u32);
            for sy in 0..SUPER {
                for sx in 0..SUPER {
                    let x = f64::from(px) + (f64::from(sx) + 0.5) / f64::from(SUPER);
                    let y = f64::from(py) + (f64::from(sy) + 0.5) / f64::from(SUPER);
                    if let Some(c) = shapes.iter().rev().find_map(|s| s(x, y)) {
                        for i in 0..3 {
                            sum[i] += u32::from(c[i]) * u32::from(c[3]);
                        }
                        weight += u32::from(c[3]);
                    }
                }
            }
            let alpha = weight / (SUPER * SUPER);
            let channel = |i: usize| sum[i].checked_div(weight).unwrap_or(0) as u8;
            rgba.extend([channel(0), channel(1), channel(2), alpha as u8]);
        }
    }
    rgba
}

fn write(name: &str, shapes: &[Shape]) {
    let path = format!("{}/icons/{name}", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::create(&path).expect("icons/ is writable");
    let mut encoder = png::Encoder::new(std::io::BufWriter::new(file), SIZE, SIZE);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().expect("a PNG header");
    writer.write_image_data(&render(shapes)).expect("the pixels");
    println!("wrote {path}");
}

fn main() {
    write("tray-green.png", &[ring(1.0, GREEN, TRACK), dot(11.0, GREEN)]);
    write("tray-orange.png", &[ring(2.0 / 3.0, ORANGE, TRACK)]);
    write("tray-red.png", &[ring(1.0 / 3.0, RED, TRACK), exclamation(RED)]);
    write("tray-expired.png", &[cross(RED)]);
    write("tray-none.png", &[ring(0.0, GREY, TRACK)]);
    for (style, c) in [("light", LIGHT), ("dark", DARK)] {
        write(&format!("tray-green-{style}.png"), &[ring(1.0, c, faint(c)), dot(11.0, c)]);
        write(&format!("tray-orange-{style}.png"), &[ring(2.0 / 3.0, c, faint(c))]);
        write(&format!("tray-red-{style}.png"), &[ring(1.0 / 3.0, c, faint(c)), exclamation(c)]);
        write(&format!("tray-expired-{style}.png"), &[cross(c)]);
        write(&format!("tray-none-{style}.png"), &[ring(0.0, c, faint(c))]);
    }
}
