"""What long-lived objects need from the process they live in: fork and exit hooks
(``hooks``), pausing the cyclic garbage collector around large builds (``gc``), and
rate-limited logging off the request path (``ratelimit``)."""
