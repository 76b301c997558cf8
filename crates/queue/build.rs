//! Rebuild when a migration is added: `sqlx::migrate!` embeds the migration directories.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
