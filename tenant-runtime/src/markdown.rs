//! Product descriptions: merchants write Markdown; buyers get HTML that
//! ammonia has cleaned (no scripts, no event handlers, no `javascript:` links,
//! links opened with `rel="noopener noreferrer nofollow"`).

use pulldown_cmark::{Event, Options, Parser, html};

/// Markdown to safe HTML. A single line break stays a line break (merchants
/// write descriptions line by line), so pages need no `pre-wrap`, whose
/// kept newlines between blocks showed as large blank gaps.
pub fn render_description(markdown: &str) -> String {
    let mut raw = String::with_capacity(markdown.len() * 2);
    let events = Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES)
        .map(|e| if matches!(e, Event::SoftBreak) { Event::HardBreak } else { e });
    html::push_html(&mut raw, events);
    ammonia::Builder::default().link_rel(Some("noopener noreferrer nofollow")).clean(&raw).to_string()
}

#[cfg(test)]
mod tests {
    use super::render_description;

    #[test]
    fn markdown_renders_and_hostile_html_does_not_survive() {
        let html = render_description("**充值说明**\n\n- 第一步\n- [帮助](https://example.com)");
        assert!(html.contains("<strong>充值说明</strong>"));
        assert!(html.contains("<li>第一步</li>"));
        assert!(html.contains("rel=\"noopener noreferrer nofollow\""));
        // One line break is a line break; a blank line a new paragraph.
        let lines = render_description("官方充值码。\nOfficial code.\n\nSecond paragraph.");
        assert!(lines.contains("官方充值码。<br>") || lines.contains("官方充值码。<br />"), "{lines}");
        assert_eq!(lines.matches("<p>").count(), 2, "{lines}");
        let evil =
            render_description("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))");
        assert!(!evil.contains("<script"), "{evil}");
        assert!(!evil.contains("onerror"), "{evil}");
        assert!(!evil.contains("javascript:"), "{evil}");
    }
}
