//! How long one page render may hold a thread: a merchant template that
//! spends a whole fuel budget, timed in the sandbox's own settings. Run by
//! `bench/template_fuel.sh` (release build).

use std::time::Instant;

fn median_ms(fuel: u64, runs: usize) -> f64 {
    let mut env = minijinja::Environment::new();
    env.set_fuel(Some(fuel));
    env.add_template(
        "t",
        "{% for i in range(10000) %}{% for j in range(10000) %}<li>{{ j }}</li>{% endfor %}{% endfor %}",
    )
    .expect("template");
    let t = env.get_template("t").expect("template");
    let mut took: Vec<f64> = (0..runs)
        .map(|_| {
            let started = Instant::now();
            let err = t.render(minijinja::context! {}).expect_err("runs out of fuel");
            assert_eq!(err.kind(), minijinja::ErrorKind::OutOfFuel);
            started.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    took.sort_by(f64::total_cmp);
    took[runs / 2]
}

fn main() {
    println!("a render that spends its whole fuel budget (median of 21):");
    for fuel in [100_000u64, 400_000, 2_000_000] {
        println!("  fuel {fuel:>9}: {:7.2} ms", median_ms(fuel, 21));
    }
    println!("the sandbox's budget is kapu_themes::FUEL = {}", kapu_themes::FUEL);
}
