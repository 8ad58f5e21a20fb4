"""What long-lived objects need from the process they live in: fork and exit hooks
(``hooks``), closing everything on a signal (``signals``), background threads that leave
signals to the main thread (``threads``), pausing the cyclic garbage collector around large
builds (``gc``), rate-limited logging off the request path (``ratelimit``), and package
fronts that import their names on first use (``lazy``)."""
