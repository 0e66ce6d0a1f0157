//! What a notification says: a title, a few lines a person reads on a phone's lock screen, a
//! link to the plan, and (in the JSON payload) the plan's summary as data.

use app::api::{PlanDetail, RiskCheck};
use serde::Serialize;

/// A plan, as much of it as a message needs: what it trades, how the book's gross exposure
/// changes, whether the risk checks pass.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanDigest {
    pub id: String,
    pub status: String,
    pub broker: String,
    pub data_day: String,
    pub equity: f64,
    /// Orders to send (lines not dropped).
    pub orders: usize,
    pub dropped: usize,
    /// Σ|weight| before and after the plan's trades.
    pub gross_before: f64,
    pub gross_after: f64,
    pub risk_checks: Vec<RiskCheck>,
    pub blocked: bool,
    pub block_reasons: Vec<String>,
    pub decided_by: Option<String>,
    /// Orders of an executed plan by status (`filled: 12`, `rejected: 1`).
    pub order_states: Vec<(String, usize)>,
    pub note: Option<String>,
}

impl PlanDigest {
    pub fn of(plan: &PlanDetail) -> PlanDigest {
        let s = &plan.summary;
        let mut order_states: Vec<(String, usize)> = Vec::new();
        for o in &plan.orders {
            match order_states
                .iter_mut()
                .find(|(k, _)| o.status == k.as_str())
            {
                Some((_, n)) => *n += 1,
                None => order_states.push((o.status.to_string(), 1)),
            }
        }
        PlanDigest {
            id: s.id.clone(),
            status: s.status.to_string(),
            broker: s.broker.clone(),
            data_day: s.data_day.clone(),
            equity: s.equity,
            orders: s.orders,
            dropped: s.dropped,
            gross_before: plan.lines.iter().map(|l| l.current_weight.abs()).sum(),
            gross_after: plan.lines.iter().map(|l| l.new_weight.abs()).sum(),
            risk_checks: plan.risk.checks.clone(),
            blocked: s.blocked,
            block_reasons: s.block_reasons.clone(),
            decided_by: s.decided_by.clone(),
            order_states,
            note: plan.note.clone(),
        }
    }
}

/// One notification, ready for any channel.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// One of [`super::settings::EVENTS`].
    pub event: String,
    pub title: String,
    /// The body, one fact per line.
    pub lines: Vec<String>,
    /// Where to act on it (the plan page), when the dashboard's address is known.
    pub link: Option<String>,
    pub plan: Option<PlanDigest>,
    /// Unix milliseconds.
    pub at: i64,
}

/// `12.3%`.
fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// `$1,234,567.89`.
pub fn usd(x: f64) -> String {
    let neg = x < 0.0;
    let cents = (x.abs() * 100.0).round() as u128;
    let (whole, frac) = (cents / 100, cents % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    format!("{}${grouped}.{frac:02}", if neg { "-" } else { "" })
}

/// The link to a plan's page, `<public_url>/plans/<id>`.
pub fn plan_link(public_url: Option<&str>, id: &str) -> Option<String> {
    public_url.map(|u| format!("{}/plans/{id}", u.trim_end_matches('/')))
}

impl Message {
    /// A message about a plan reaching `event` (`plan.proposed`, `plan.approved`, `plan.done`,
    /// `plan.partially_failed`, `plan.abandoned`).
    pub fn plan(event: &str, plan: &PlanDetail, public_url: Option<&str>, at: i64) -> Message {
        let d = PlanDigest::of(plan);
        let what = match event {
            "plan.proposed" if d.blocked => "proposed, BLOCKED".to_string(),
            "plan.proposed" => "proposed: waiting for approval".to_string(),
            "plan.approved" => format!(
                "approved by {}",
                d.decided_by.as_deref().unwrap_or("someone")
            ),
            "plan.done" => "executed".to_string(),
            "plan.partially_failed" => "executed, PARTIALLY FAILED".to_string(),
            "plan.abandoned" => "ABANDONED".to_string(),
            other => other.trim_start_matches("plan.").replace('_', " "),
        };
        let title = format!("Lockstep plan for {} ({}) {what}", d.data_day, d.broker);
        let mut lines = vec![
            format!(
                "{} order(s), {} dropped; equity {}",
                d.orders,
                d.dropped,
                usd(d.equity)
            ),
            format!(
                "gross exposure {} → {}",
                pct(d.gross_before),
                pct(d.gross_after)
            ),
        ];
        let failed: Vec<&RiskCheck> = d.risk_checks.iter().filter(|c| !c.ok).collect();
        if failed.is_empty() {
            lines.push(format!(
                "risk checks: all {} pass ({})",
                d.risk_checks.len(),
                d.risk_checks
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        } else {
            for c in failed {
                lines.push(format!(
                    "risk check {} FAILS: {:.4} over the limit {:.4} {}",
                    c.name, c.value, c.limit, c.detail
                ));
            }
        }
        for r in &d.block_reasons {
            lines.push(format!("blocked: {r}"));
        }
        if !d.order_states.is_empty() {
            lines.push(format!(
                "orders: {}",
                d.order_states
                    .iter()
                    .map(|(s, n)| format!("{n} {s}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if let Some(n) = &d.note {
            lines.push(n.clone());
        }
        lines.push(format!("plan {}", d.id));
        Message {
            event: event.to_string(),
            title,
            lines,
            link: plan_link(public_url, &d.id),
            plan: Some(d),
            at,
        }
    }

    /// The kill switch was turned on or off.
    pub fn kill_switch(
        active: bool,
        actor: &str,
        reason: Option<&str>,
        public_url: Option<&str>,
        at: i64,
    ) -> Message {
        let mut lines = vec![if active {
            format!("{actor} turned the kill switch ON: no new orders are sent")
        } else {
            format!("{actor} turned the kill switch off: plans may execute again")
        }];
        if let Some(r) = reason {
            lines.push(format!("reason: {r}"));
        }
        Message {
            event: "kill_switch".into(),
            title: format!("Lockstep kill switch {}", if active { "ON" } else { "off" }),
            lines,
            link: public_url.map(|u| format!("{}/", u.trim_end_matches('/'))),
            plan: None,
            at,
        }
    }

    /// The live cycle refused to trade on stale data.
    pub fn stale(
        day: shared::Day,
        age_hours: f64,
        max_hours: f64,
        public_url: Option<&str>,
        at: i64,
    ) -> Message {
        Message {
            event: "data.stale".into(),
            title: "Lockstep market data is stale: no plan today".into(),
            lines: vec![format!(
                "the newest complete day {day} closed {age_hours:.1} h ago (limit {max_hours} h); \
                 check the data refresh"
            )],
            link: public_url.map(|u| format!("{}/data", u.trim_end_matches('/'))),
            plan: None,
            at,
        }
    }

    /// The body as plain text: the lines, then the link.
    pub fn text(&self) -> String {
        let mut s = self.lines.join("\n");
        if let Some(l) = &self.link {
            s.push_str("\n\n");
            s.push_str(l);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_has_thousands_separators() {
        assert_eq!(usd(1_234_567.891), "$1,234,567.89");
        assert_eq!(usd(999.5), "$999.50");
        assert_eq!(usd(-1000.0), "-$1,000.00");
        assert_eq!(usd(0.0), "$0.00");
    }

    #[test]
    fn links_point_at_the_plan_page() {
        assert_eq!(
            plan_link(Some("https://ls.example.com/"), "plan-1").as_deref(),
            Some("https://ls.example.com/plans/plan-1")
        );
        assert_eq!(plan_link(None, "plan-1"), None);
    }
}
