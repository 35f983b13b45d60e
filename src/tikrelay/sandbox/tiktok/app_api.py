"""What yt-dlp's hashtag, sound and effect extractors (``TikTokTagIE``, ``TikTokSoundIE``,
``TikTokEffectIE``) ask for: a hashtag's page on www.tiktok.com, and the TikTok app's API on
``*.tiktokv.com``.

The hashtag page gives crawlers (yt-dlp sends ``facebookexternalhit``'s User-Agent) the app's
deep link, ``snssdk1233://challenge/detail/ID``, from which yt-dlp reads the hashtag's id; a
browser gets the web app's page, without it. The app's API lists the posts of a hashtag
(``/aweme/v1/challenge/aweme/?ch_id=…``), a sound (``/aweme/v1/music/aweme/?music_id=…``) or an
effect (``/aweme/v1/sticker/aweme/?sticker_id=…``) as ``aweme_list`` items in the app's shape
(what yt-dlp's ``_parse_aweme_video_app`` reads), paged by an offset ``cursor`` with
``has_more``. It answers only an install it knows (``world.add_app_install()``: the ``iid`` and
the app's name, versions and aid that yt-dlp builds from ``app_info``); any other request gets
a 200 with an empty body, as TikTok's API answers an install id that is not a genuine one
(yt-dlp: "Failed to parse JSON").
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import unquote

from tikrelay.sandbox.tiktok import pages
from tikrelay.sandbox.tiktok.model import (
    APP_API_DOMAIN,
    APP_PAGE_SIZE,
    OK,
    Creator,
    Hashtag,
    Post,
    PostKind,
    Sound,
    app_page,
)
from tikrelay.sandbox.tiktok.wire import Request, Response
from tikrelay.sandbox.tiktok.world import TikTokWorld

JSON = dict[str, Any]

TAG_PAGE = re.compile(r"/tag/(?P<name>[^/]+)/?")
_CRAWLER = "facebookexternalhit"
_LISTINGS = {
    "/aweme/v1/challenge/aweme/": "ch_id",
    "/aweme/v1/music/aweme/": "music_id",
    "/aweme/v1/sticker/aweme/": "sticker_id",
}


def serves(host: str) -> bool:
    """The app's API hosts (yt-dlp's ``api_hostname``): any ``*.tiktokv.com``."""
    return host.endswith(APP_API_DOMAIN)


def tag_page(world: TikTokWorld, request: Request, name: str) -> Response:
    """A hashtag's page: the deep link for a crawler, the web app's page for a browser."""
    tag = world.hashtag(unquote(name))
    crawler = _CRAWLER in request.headers.get("user-agent", "")
    if crawler:
        return Response.text(200, _crawler_page(tag), "text/html")
    if tag is None:
        scope = {"webapp.challenge-detail": {"statusCode": 10205, "statusMsg": ""}}
        return Response.text(200, pages.html_page("TikTok", scope), "text/html")
    detail = {
        "statusCode": OK,
        "challengeInfo": {"challenge": {"id": tag.id, "title": tag.name}},
    }
    title = f"#{tag.name} | TikTok"
    return Response.text(
        200, pages.html_page(title, {"webapp.challenge-detail": detail}), "text/html"
    )


def _crawler_page(tag: Hashtag | None) -> str:
    if tag is None:
        return "<!DOCTYPE html><html><head><title>TikTok</title></head><body></body></html>"
    title = html.escape(f"#{tag.name} | TikTok")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f'<title>{title}</title><meta property="og:title" content="{title}">'
        f'<meta property="og:url" content="{html.escape(tag.url, quote=True)}">'
        '<meta property="al:android:app_name" content="TikTok">'
        '<meta property="al:android:package" content="com.zhiliaoapp.musically">'
        f'<meta property="al:android:url" content="snssdk1233://challenge/detail/{tag.id}">'
        "</head><body></body></html>"
    )


def api(world: TikTokWorld, request: Request) -> Response:
    """``/aweme/v1/{challenge,music}/aweme/`` of the app's API."""
    key = _LISTINGS.get(request.path)
    if key is None:
        return Response.json(404, {"status_code": 404, "status_msg": "not found"})
    query = request.query
    if world.app_install_for(query) is None:
        return Response(200, [("Content-Type", "application/json; charset=utf-8")])
    try:
        cursor = int(query.get("cursor") or 0)
        count = int(query.get("count") or APP_PAGE_SIZE)
    except ValueError:
        return Response.json(200, {"status_code": 2053, "status_msg": "invalid parameters"})
    listed = query.get(key, "")
    lists = {
        "ch_id": world.hashtag_posts,
        "music_id": world.sound_posts,
        "sticker_id": world.effect_posts,
    }
    posts = lists[key](listed)
    page, after, more = app_page(posts, cursor, count)
    items = []
    for post in page:
        author = world.creator(post.username)
        if author is not None:
            items.append(aweme(post, author, world.sound_of(post.id)))
    return Response.json(
        200,
        {
            "status_code": OK,
            "aweme_list": items,
            "cursor": after,
            "has_more": int(more),
        },
    )


def aweme(post: Post, author: Creator, sound: Sound | None) -> JSON:
    """One ``aweme_list`` item: a post as the app's API sends it."""
    media = post.media
    stats = post.stats
    music_urls = [media.music_url] if media.music_url else []
    item: JSON = {
        "aweme_id": post.id,
        "desc": post.desc,
        "create_time": post.create_time,
        "aweme_type": 150 if post.kind is PostKind.SLIDESHOW else 0,
        "author": {
            "uid": author.user_id,
            "unique_id": author.username,
            "nickname": author.nickname,
            "sec_uid": author.sec_uid,
        },
        "statistics": {
            "aweme_id": post.id,
            "play_count": stats.get("playCount", 0),
            "digg_count": stats.get("diggCount", 0),
            "share_count": stats.get("shareCount", 0),
            "comment_count": stats.get("commentCount", 0),
            "collect_count": stats.get("collectCount", 0),
        },
        "music": {
            "id_str": sound.id if sound else pages.original_sound_id(post),
            "title": sound.title if sound else f"original sound - {author.username}",
            "author": sound.author if sound else author.nickname,
            "owner_handle": "" if sound else author.username,
            "is_original_sound": sound is None,
            "play_url": {"url_list": music_urls},
            "duration": 1 if music_urls else 0,
        },
        "video": _video(post),
        "text_extra": [
            {"hashtag_name": word[1:], "type": 1} for word in post.desc.split() if word[:1] == "#"
        ],
        "share_url": f"https://www.tiktok.com/@{author.username}/video/{post.id}",
        "region": "US",
    }
    if post.kind is PostKind.SLIDESHOW:
        item["image_post_info"] = {
            "images": [
                {
                    "display_image": {
                        "url_list": [slide.url, slide.mirror_url],
                        "width": slide.width,
                        "height": slide.height,
                    }
                }
                for slide in post.slides
            ]
        }
    return item


def _video(post: Post) -> JSON:
    media = post.media
    cover = {"url_list": [media.cover_url]}
    video: JSON = {
        "width": media.width,
        "height": media.height,
        "duration": post.duration * 1000,  # milliseconds, in the app's API
        "cover": cover,
        "origin_cover": cover,
        "has_watermark": True,
        "play_addr": {
            "url_list": [media.play_url] if media.play_url else [],
            "width": media.width,
            "height": media.height,
            "data_size": media.clean_size or None,
        },
    }
    if post.kind is PostKind.VIDEO:
        video["play_addr"]["url_key"] = f"v12044gd0000{post.id[-12:]}_h264_540p_500000"
    if media.download_url:
        video["download_addr"] = {"url_list": [media.download_url], "width": media.width}
    return video
