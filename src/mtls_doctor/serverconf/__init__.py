"""Server configurations (nginx, Apache httpd, HAProxy): parse, load, lint, judge."""
