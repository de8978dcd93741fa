//! The main job: the four panels of Fig. 8, as data and as one picture.

use crate::util;

const PANELS: [&str; 4] = ["a", "b", "c", "d"];

/// `cargo xtask fig8 [--backend NAME] [any further `brunel run` options]`.
pub fn run(extra: &[String]) -> Result<(), String> {
    // The main job needs no Python: only the system packages of the build.
    let brunel = util::release_brunel()?;
    let root = util::project_root();
    let out = root.join("out/fig8");
    std::fs::create_dir_all(&out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    let mut files = Vec::new();
    for panel in PANELS {
        let config = root.join(format!("configs/fig8_{panel}.toml"));
        let h5 = out.join(format!("fig8_{panel}.h5"));
        let mut cmd = std::process::Command::new(&brunel);
        cmd.current_dir(&root)
            .arg("run")
            .arg(&config)
            .arg("--out")
            .arg(&h5)
            .arg("--force")
            .args(extra);
        util::run(&mut cmd)?;
        files.push(h5);
    }
    let png = out.join("fig8.png");
    let mut plot = std::process::Command::new(&brunel);
    plot.current_dir(&root)
        .arg("plot")
        .args(&files)
        .arg("-o")
        .arg(&png);
    util::run(&mut plot)?;
    eprintln!(
        "\nfig8: data in {}/fig8_{{a,b,c,d}}.h5, picture {}",
        out.display(),
        png.display()
    );
    Ok(())
}
