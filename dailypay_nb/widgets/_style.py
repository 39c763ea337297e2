"""The token form's look: theme colours (JupyterLab's CSS variables only, so light and dark
themes both read well) and the form's own CSS, scoped to `.dpnb-form`."""

from __future__ import annotations

__all__ = ["BORDER", "ERROR", "MUTED", "OK", "STYLE", "TEXT", "WARN"]

OK = "var(--jp-success-color1)"
ERROR = "var(--jp-error-color1)"
WARN = "var(--jp-warn-color1)"
MUTED = "var(--jp-ui-font-color2)"
TEXT = "var(--jp-ui-font-color1)"
BORDER = "var(--jp-border-color2)"

#: The form's own CSS, scoped to `.dpnb-form` (theme variables only).
#:
#: `jupyter-widgets-disconnected` is the class ipywidgets puts on every view whose model lost
#: its kernel (a restart, or a notebook reopened from saved widget state). Its marker, a
#: `::before` icon, would become an extra flex or grid item in every box; the form hides it
#: and shows one note instead, greys the rest, and drops anything live (the countdown).
STYLE = f"""<style>
.dpnb-form {{ color: {TEXT}; }}
.dpnb-form .jupyter-widgets-disconnected::before,
.dpnb-form.jupyter-widgets-disconnected::before {{ content: none !important; display: none !important; }}
.dpnb-form .dpnb-offline {{ display: none; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-offline {{ display: block; border-left: 3px solid {WARN};
  padding: 2px 8px; margin: 4px 0; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-live,
.dpnb-form.jupyter-widgets-disconnected .dpnb-clock {{ display: none !important; }}
.dpnb-form.jupyter-widgets-disconnected .dpnb-row,
.dpnb-form.jupyter-widgets-disconnected .dpnb-status,
.dpnb-form.jupyter-widgets-disconnected .dpnb-frames {{ opacity: 0.55; filter: grayscale(1); }}
.dpnb-form.jupyter-widgets-disconnected input,
.dpnb-form.jupyter-widgets-disconnected button {{ pointer-events: none; }}
.dpnb-form :is(.widget-html-content, .jupyter-widget-html-content) {{ line-height: 1.4;
  white-space: normal; overflow-wrap: anywhere; }}
.dpnb-form .dpnb-label :is(.widget-html-content, .jupyter-widget-html-content) {{
  line-height: var(--jp-widgets-inline-height, 28px); white-space: nowrap; }}
.dpnb-form .dpnb-row {{ flex-wrap: wrap; column-gap: 8px; align-items: flex-start; overflow: visible;
  margin: 1px 0; }}
.dpnb-form .dpnb-label {{ flex: 0 0 7.5em; margin: 0; }}
.dpnb-form .dpnb-field {{ flex: 1 1 16em; min-width: 0; max-width: 36em; overflow: visible; margin: 0; }}
.dpnb-form :is(.widget-text, .jupyter-widget-text) {{ width: auto; margin: 2px 0; box-sizing: border-box; }}
.dpnb-form :is(.widget-text, .jupyter-widget-text) input {{ box-sizing: border-box; width: 100%;
  min-width: 0; text-overflow: ellipsis; }}
.dpnb-form .dpnb-note :is(.widget-html-content, .jupyter-widget-html-content) {{ color: {MUTED};
  font-size: 90%; padding: 1px 0 3px; }}
.dpnb-form .dpnb-note {{ margin: 0; }}
.dpnb-form .dpnb-secret-help {{ flex-wrap: wrap; column-gap: 6px; align-items: baseline; overflow: visible; }}
.dpnb-form .dpnb-secret-help .dpnb-note {{ flex: 0 1 auto; min-width: 0; }}
.dpnb-form .dpnb-scopes {{ container-type: inline-size; }}
.dpnb-form .dpnb-scope-row {{ flex-wrap: wrap; column-gap: 8px; overflow: visible; }}
.dpnb-form .dpnb-scope-row :is(.widget-checkbox, .jupyter-widget-checkbox) {{ flex: 0 0 130px;
  width: 130px; margin: 0; }}
.dpnb-form .dpnb-scope-desc {{ flex: 1 1 180px; min-width: 0; margin: 0; }}
.dpnb-form .dpnb-scope-desc :is(.widget-html-content, .jupyter-widget-html-content) {{ color: {MUTED};
  padding: 5px 0; }}
@container (max-width: 317px) {{
  .dpnb-form .dpnb-scope-desc :is(.widget-html-content, .jupyter-widget-html-content) {{
    padding: 0 0 4px 22px; }} }}
.dpnb-form .dpnb-actions {{ flex-wrap: wrap; gap: 4px; overflow: visible; }}
.dpnb-form .dpnb-actions .jupyter-button {{ width: auto; margin: 2px 0; padding: 0 12px; }}
.dpnb-form .jupyter-button.dpnb-forget {{ width: auto; height: auto; margin: 0; padding: 0 2px;
  font-size: 90%; background: none; box-shadow: none; border: none; color: var(--jp-content-link-color);
  text-decoration: underline; line-height: 1.4; }}
.dpnb-form .dpnb-invalid input {{ border-color: {ERROR} !important; box-shadow: inset 0 0 0 1px {ERROR}; }}
.dpnb-form .dpnb-scopes.dpnb-invalid {{ box-shadow: inset 3px 0 0 {ERROR}; padding-left: 6px; }}
.dpnb-form .dpnb-env .mod-active {{ box-shadow: inset 0 -3px 0 var(--jp-brand-color1); font-weight: 600; }}
.dpnb-form .dpnb-frames-box {{ container-type: inline-size; width: 100%; }}
.dpnb-form table.dpnb-table {{ border-collapse: collapse; font-size: var(--jp-ui-font-size0, 11px);
  color: {TEXT}; margin-top: 2px; max-width: 100%; }}
.dpnb-form table.dpnb-table th, .dpnb-form table.dpnb-table td {{ padding: 1px 6px;
  border-bottom: 1px solid {BORDER}; text-align: left; white-space: nowrap; }}
.dpnb-form table.dpnb-table td.dpnb-c-error {{ white-space: normal; overflow-wrap: anywhere; }}
.dpnb-form table.dpnb-table th {{ font-weight: 600; }}
@container (max-width: 560px) {{ .dpnb-form table.dpnb-table .dpnb-wide-only {{ display: none; }} }}
</style>"""
