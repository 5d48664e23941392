//! Rebuilds the crate when the app is rebuilt: `include_dir!` notices changed and removed files,
//! but not a file that is only added, so the folder itself is watched too.
fn main() {
    println!("cargo:rerun-if-changed=dist");
    println!("cargo:rerun-if-changed=dist/assets");
}
