//! Where the window opens: beside the tray icon, as a compact panel, where
//! the desktop says where the icon is (Windows and macOS report it with the
//! click; Linux indicators report nothing, and there the window manager
//! places a window of the usual size).

/// A rectangle in physical pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: i32,
    pub y: i32,
    pub width: u32,
    pub height: u32,
}

/// No screen is larger than this many pixels across: a rectangle past it
/// is not one the desktop gave.
const LARGEST: i32 = 1 << 20;

impl Rect {
    fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.width)
    }

    fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.height)
    }

    /// Reads `x,y,width,height`, as the tray passes it to the window process.
    pub fn parse(text: &str) -> Option<Rect> {
        let mut parts = text.split(',').map(str::trim);
        let rect = Rect {
            x: parts.next()?.parse().ok()?,
            y: parts.next()?.parse().ok()?,
            width: parts.next()?.parse().ok()?,
            height: parts.next()?.parse().ok()?,
        };
        let sane = rect.x.abs() <= LARGEST
            && rect.y.abs() <= LARGEST
            && rect.width <= LARGEST as u32
            && rect.height <= LARGEST as u32;
        (parts.next().is_none() && sane).then_some(rect)
    }
}

impl std::fmt::Display for Rect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{},{},{},{}", self.x, self.y, self.width, self.height)
    }
}

/// The panel's size beside the tray, in logical pixels (CSS pixels): the
/// window's compact layout (below 600 px).
pub const PANEL: (f64, f64) = (420.0, 620.0);
/// The gap between the icon and the panel.
const GAP: i32 = 6;

/// The panel's top-left corner: against the side of the icon that faces
/// away from the screen edge it sits on (below an icon on a top bar, above
/// one on a bottom taskbar, beside one on a vertical panel), then moved
/// inside `screen` (the monitor's work area).
/// All in physical pixels.
pub fn beside_tray(icon: Rect, panel: (u32, u32), screen: Rect) -> (i32, i32) {
    let (w, h) = (i64::from(panel.0), i64::from(panel.1));
    let gap = i64::from(GAP);
    let centre = |start: i32, len: u32, size: i64| i64::from(start) + i64::from(len) / 2 - size / 2;
    let edges = [
        (i64::from(icon.y) - i64::from(screen.y), Edge::Top),
        (screen.bottom() - icon.bottom(), Edge::Bottom),
        (i64::from(icon.x) - i64::from(screen.x), Edge::Left),
        (screen.right() - icon.right(), Edge::Right),
    ];
    let nearest = edges.iter().min_by_key(|(distance, _)| *distance).map_or(Edge::Top, |(_, e)| *e);
    let (x, y) = match nearest {
        Edge::Top => (centre(icon.x, icon.width, w), icon.bottom() + gap),
        Edge::Bottom => (centre(icon.x, icon.width, w), i64::from(icon.y) - gap - h),
        Edge::Left => (icon.right() + gap, centre(icon.y, icon.height, h)),
        Edge::Right => (i64::from(icon.x) - gap - w, centre(icon.y, icon.height, h)),
    };
    let fit = |v: i64, start: i32, end: i64, size: i64| {
        let v = v.min(end - size).max(i64::from(start));
        i32::try_from(v).unwrap_or(start)
    };
    (fit(x, screen.x, screen.right(), w), fit(y, screen.y, screen.bottom(), h))
}

#[derive(Debug, Clone, Copy)]
enum Edge {
    Top,
    Bottom,
    Left,
    Right,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREEN: Rect = Rect { x: 0, y: 0, width: 1920, height: 1080 };
    /// The panel at a scale of 1.
    const SIZE: (u32, u32) = (420, 620);

    #[test]
    fn below_an_icon_on_a_top_bar_and_kept_on_screen() {
        let icon = Rect { x: 1800, y: 0, width: 24, height: 24 };
        assert_eq!(beside_tray(icon, SIZE, SCREEN), (1920 - 420, 30));
    }

    #[test]
    fn above_an_icon_on_a_bottom_taskbar() {
        let icon = Rect { x: 1500, y: 1040, width: 40, height: 40 };
        assert_eq!(beside_tray(icon, SIZE, SCREEN), (1500 + 20 - 210, 1040 - 6 - 620));
    }

    #[test]
    fn beside_an_icon_on_a_vertical_panel() {
        let icon = Rect { x: 0, y: 500, width: 32, height: 32 };
        assert_eq!(beside_tray(icon, SIZE, SCREEN), (38, 516 - 310));
        let right = Rect { x: 1888, y: 500, width: 32, height: 32 };
        assert_eq!(beside_tray(right, SIZE, SCREEN), (1888 - 6 - 420, 516 - 310));
    }

    #[test]
    fn a_second_monitor_and_a_screen_smaller_than_the_panel() {
        let second = Rect { x: 1920, y: -200, width: 1280, height: 1024 };
        let icon = Rect { x: 3150, y: -200, width: 24, height: 24 };
        let (x, y) = beside_tray(icon, SIZE, second);
        assert!(x >= 1920 && x + 420 <= 3200 && y == -200 + 30, "({x}, {y})");
        let tiny = Rect { x: 0, y: 0, width: 300, height: 300 };
        assert_eq!(beside_tray(Rect { x: 280, y: 0, width: 20, height: 20 }, SIZE, tiny), (0, 0));
        // Extremes do not overflow.
        let far = Rect { x: LARGEST, y: -LARGEST, width: LARGEST as u32, height: LARGEST as u32 };
        let _ = beside_tray(far, (u32::MAX, u32::MAX), far);
    }

    #[test]
    fn the_rectangle_passes_between_processes_as_text() {
        let r = Rect { x: -5, y: 10, width: 24, height: 24 };
        assert_eq!(Rect::parse(&r.to_string()), Some(r));
        for bad in ["", "1,2,3", "1,2,3,4,5", "a,b,c,d", "1,2,-3,4", "2147483647,0,24,24", "0,0,4294967295,1"] {
            assert_eq!(Rect::parse(bad), None, "{bad:?}");
        }
    }
}
