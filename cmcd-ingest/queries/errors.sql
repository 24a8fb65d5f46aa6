-- HTTP errors per hour, status and edge, with the sessions they hit.
SELECT dt, hour, sc_status, x_edge_location,
       COUNT(*) AS requests,
       COUNT(DISTINCT cmcd_sid) AS sessions
FROM requests
WHERE sc_status >= 400
GROUP BY dt, hour, sc_status, x_edge_location
ORDER BY requests DESC, dt, hour, sc_status, x_edge_location
LIMIT 50
