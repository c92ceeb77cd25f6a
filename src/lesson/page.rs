//! The lesson's one HTML page: sections with their text, figure and the command that
//! reproduces the figure; no script, font or style sheet from the network.

/// One section of the lesson.
pub struct Section {
    /// Its heading.
    pub title: String,
    /// Its text, as HTML (paragraphs, tables, MathML).
    pub body: String,
    /// The figure file beside index.html and its description.
    pub figure: Option<(String, String)>,
    /// The shell command that reproduces the figure.
    pub command: String,
}

/// `text` with the five HTML special characters escaped.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

const STYLE: &str = "body{font-family:sans-serif;max-width:62rem;margin:2rem auto;padding:0 1rem;\
line-height:1.5;color:#222}h1{font-size:1.8rem}h2{margin-top:2.5rem;border-bottom:1px solid #ccc}\
img{max-width:100%;border:1px solid #ddd}pre{background:#f4f4f4;padding:.6rem;overflow-x:auto}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:left}\
math{font-size:1.1em}.note{color:#555;font-size:.9rem}";

/// After loading, the page records in `data-images` on <body> whether every figure
/// decoded ("ok") or how many did not ("broken N"), for the headless-browser check.
const IMAGE_CHECK: &str = "window.addEventListener('load',function(){var n=0;\
for(var i of document.images){if(!(i.complete&&i.naturalWidth>0))n++;}\
document.body.dataset.images=n?'broken '+n:'ok';});";

/// The page of `sections` under `title`, with `intro` above them.
pub fn page(title: &str, intro: &str, sections: &[Section]) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n<script>{IMAGE_CHECK}</script>\n</head>\n\
         <body>\n<h1>{}</h1>\n{intro}\n<ol>\n",
        escape(title),
        escape(title)
    );
    for (i, s) in sections.iter().enumerate() {
        html.push_str(&format!(
            "<li><a href=\"#s{}\">{}</a></li>\n",
            i + 1,
            escape(&s.title)
        ));
    }
    html.push_str("</ol>\n");
    for (i, s) in sections.iter().enumerate() {
        html.push_str(&format!(
            "<h2 id=\"s{}\">{}. {}</h2>\n{}\n",
            i + 1,
            i + 1,
            escape(&s.title),
            s.body
        ));
        if let Some((file, alt)) = &s.figure {
            html.push_str(&format!(
                "<p><img src=\"{}\" alt=\"{}\"></p>\n",
                escape(file),
                escape(alt)
            ));
        }
        html.push_str(&format!(
            "<p class=\"note\">Reproduce:</p>\n<pre><code>{}</code></pre>\n",
            escape(&s.command)
        ));
    }
    html.push_str("</body>\n</html>\n");
    html
}
