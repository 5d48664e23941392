// Markdown from the assistant, rendered safely: markdown-it with raw HTML off escapes every tag
// the model writes, and its link check refuses javascript:, vbscript:, file: and data: URLs.
// Links open in a new tab without an opener.
import MarkdownIt from "markdown-it";

const md = new MarkdownIt({ html: false, linkify: false, typographer: false, breaks: false });

const defaultLinkOpen =
  md.renderer.rules["link_open"] ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules["link_open"] = (tokens, idx, options, env, self) => {
  const token = tokens[idx];
  if (token) {
    token.attrSet("target", "_blank");
    token.attrSet("rel", "noopener noreferrer nofollow");
  }
  return defaultLinkOpen(tokens, idx, options, env, self);
};
// No images from the model: they would load from anywhere (and the CSP refuses them anyway).
md.disable("image");

export function renderMarkdown(text: string): string {
  return md.render(text);
}
