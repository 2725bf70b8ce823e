"""Documents as files: HTML and PDF rendering, branding, templates."""
