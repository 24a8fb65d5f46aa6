-- Requested video bitrates: requests and content time per rung of the ladder (ot v/av).
SELECT cmcd_br AS bitrate_kbps,
       COUNT(*) AS requests,
       SUM(cmcd_d) AS content_ms
FROM requests
WHERE cmcd_ot IN ('v', 'av') AND cmcd_br IS NOT NULL
GROUP BY cmcd_br
ORDER BY cmcd_br
