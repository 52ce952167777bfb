//! Product descriptions: merchants write Markdown; buyers get HTML that
//! ammonia has cleaned (no scripts, no event handlers, no `javascript:` links,
//! links opened with `rel="noopener noreferrer nofollow"`).

use pulldown_cmark::{Options, Parser, html};

/// Markdown to safe HTML.
pub fn render_description(markdown: &str) -> String {
    let mut raw = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut raw, Parser::new_ext(markdown, Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TABLES));
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
        let evil =
            render_description("<script>alert(1)</script>\n\n<img src=x onerror=alert(2)>\n\n[x](javascript:alert(3))");
        assert!(!evil.contains("<script"), "{evil}");
        assert!(!evil.contains("onerror"), "{evil}");
        assert!(!evil.contains("javascript:"), "{evil}");
    }
}
