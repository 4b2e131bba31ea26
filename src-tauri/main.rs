fn main() {
    tokentray_app::run()
}
